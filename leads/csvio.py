"""CSV in and out of the leads list: reading an uploaded file (bounded size and rows, encoding detection, delimiter
sniffing, a column mapping guessed from Russian and English headers, a check of every row) and writing the export
(UTF-8 with a BOM for Excel, cells that a spreadsheet would run as formulas made inert). No database."""
from __future__ import annotations

import codecs
import csv
import io
from dataclasses import dataclass, field

from django.core.exceptions import ValidationError
from django.core.validators import validate_email

from leads.values import phone_clean, tags_clean

MAX_BYTES = 5 * 1024 * 1024
MAX_ROWS = 20_000
SAMPLE_ROWS = 10
MAX_ERRORS_SHOWN = 200

# What each field may hold (the model's columns; a longer cell is a row error, not a cut).
FIELD_MAX = {"name": 150, "phone": 40, "email": 254, "city": 100, "source": 32, "tags": 700}
IMPORT_FIELDS = tuple(FIELD_MAX)
# Header words (lower-cased, trimmed) that name each field, Russian and English.
HEADER_WORDS = {
    "name": ("имя", "name", "фио", "клиент", "контакт", "full name", "client", "contact"),
    "phone": ("телефон", "phone", "тел", "тел.", "номер", "номер телефона", "mobile", "мобильный", "phone number"),
    "email": ("email", "e-mail", "почта", "эл. почта", "электронная почта", "mail"),
    "city": ("город", "city", "town"),
    "source": ("источник", "source", "канал привлечения"),
    "tags": ("теги", "тег", "метки", "tags", "tag", "labels"),
}


class CsvRejected(ValueError):
    """The whole file is refused (too big, binary, unreadable): the message says why, in Russian and English."""


@dataclass
class CsvTable:
    encoding: str
    delimiter: str
    headers: list[str]
    rows: list[list[str]]  # data rows, blank ones left out; `lines[i]` is the file line of rows[i]
    lines: list[int]


@dataclass
class ImportRow:
    line: int
    values: dict[str, object] = field(default_factory=dict)  # name, phone, email, city, source: str; tags: list
    errors: list[str] = field(default_factory=list)


def decode(raw: bytes) -> tuple[str, str]:
    """The file's text and its encoding: UTF-16 with a BOM, UTF-8 (with or without a BOM), else Windows-1251.
    CsvRejected for NUL bytes or control characters (a binary file, a spreadsheet's .xlsx)."""
    if raw.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        try:
            text, encoding = raw.decode("utf-16"), "utf-16"
        except UnicodeDecodeError:
            raise CsvRejected("Файл не читается как UTF-16 / The file is not valid UTF-16") from None
    elif b"\x00" in raw:
        raise CsvRejected("Это не текстовый CSV (в файле нулевые байты) — сохраните таблицу как CSV / "
                          "Not a text CSV (the file has NUL bytes): save the sheet as CSV")
    else:
        try:
            text = raw.decode("utf-8-sig")
            encoding = "utf-8-sig" if raw.startswith(codecs.BOM_UTF8) else "utf-8"
        except UnicodeDecodeError:
            try:
                text, encoding = raw.decode("cp1251"), "cp1251"
            except UnicodeDecodeError:
                raise CsvRejected("Неизвестная кодировка: нужен UTF-8 или Windows-1251 / Unknown encoding: use "
                                  "UTF-8 or Windows-1251") from None
    sample = text[:65536]
    controls = sum(1 for ch in sample if ch < " " and ch not in "\t\r\n") + sample.count("\x00")
    if controls > max(2, len(sample) // 100):
        raise CsvRejected("Это не текстовый CSV (управляющие символы) / Not a text CSV (control characters)")
    return text.replace("\x00", ""), encoding


SNIFF_CHARS = 16384


def sniff_delimiter(text: str) -> str:
    """Comma, semicolon (Excel in Russian) or tab: the one that splits the first lines into the same number of
    columns, the most of them. Read with csv.reader (linear), not csv.Sniffer, whose regexes take seconds on a
    line of quotes."""
    sample = text[:SNIFF_CHARS]
    best, best_score = ",", (-1, -1)
    for delimiter in (",", ";", "\t"):
        try:
            widths = [len(row) for row, _ in zip(csv.reader(io.StringIO(sample, newline=""), delimiter=delimiter),
                                                 range(20), strict=False) if row]
        except csv.Error:
            continue
        if not widths or widths[0] < 2:
            continue
        score = (sum(1 for w in widths if w == widths[0]), widths[0])  # rows agreeing with the header, then width
        if score > best_score:
            best, best_score = delimiter, score
    return best


def read_table(raw: bytes) -> CsvTable:
    """The uploaded file as a header and data rows. CsvRejected for an empty, over-large or unreadable file."""
    if len(raw) > MAX_BYTES:
        raise CsvRejected(f"Файл больше {MAX_BYTES // 1024 // 1024} МБ / The file is over "
                          f"{MAX_BYTES // 1024 // 1024} MB")
    text, encoding = decode(raw)
    if not text.strip():
        raise CsvRejected("Файл пуст / The file is empty")
    delimiter = sniff_delimiter(text)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    headers: list[str] | None = None
    rows: list[list[str]] = []
    lines: list[int] = []
    try:
        for record in reader:
            if not any(cell.strip() for cell in record):
                continue
            if headers is None:
                headers = [cell.strip()[:100] for cell in record][:100]
                continue
            if len(rows) >= MAX_ROWS:
                raise CsvRejected(f"Больше {MAX_ROWS:,} строк — разделите файл / More than {MAX_ROWS:,} rows: "
                                  "split the file".replace(",", " "))
            rows.append(record[:100])
            lines.append(reader.line_num)
    except csv.Error as exc:
        raise CsvRejected(f"CSV не читается (строка {reader.line_num}): {exc} / Unreadable CSV (line "
                          f"{reader.line_num}): {exc}") from None
    return CsvTable(encoding=encoding, delimiter=delimiter, headers=headers or [], rows=rows, lines=lines)


def mapping_guess(headers: list[str]) -> dict[str, int]:
    """Field → column index, from the header words (the first column that names a field takes it)."""
    mapping: dict[str, int] = {}
    for index, header in enumerate(headers):
        word = " ".join(header.lower().replace("ё", "е").split()).strip(" :*")
        for name, words in HEADER_WORDS.items():
            if name not in mapping and (word in words or word.replace("е", "ё") in words):
                mapping[name] = index
                break
    return mapping


def mapping_check(mapping: dict[str, int], headers: list[str]) -> dict[str, int]:
    """A mapping the PWA sent back: known fields, columns that exist, each column once. ValueError otherwise."""
    seen: set[int] = set()
    for name, index in mapping.items():
        if name not in IMPORT_FIELDS:
            raise ValueError(f"Неизвестное поле / Unknown field: {name[:40]}")
        if not isinstance(index, int) or isinstance(index, bool) or not 0 <= index < len(headers):
            raise ValueError(f"Нет такого столбца / No such column for {name}: {str(index)[:20]}")
        if index in seen:
            raise ValueError("Один столбец на два поля / One column mapped to two fields")
        seen.add(index)
    if "name" not in mapping and "phone" not in mapping:
        raise ValueError("Укажите столбец имени или телефона / Map a name or a phone column")
    return mapping


def rows_check(table: CsvTable, mapping: dict[str, int]) -> list[ImportRow]:
    """Every data row's values by field, cleaned, with what is wrong with it (bad phone, too long, no name and no
    phone). A row with errors is not imported."""
    checked = []
    for record, line in zip(table.rows, table.lines, strict=True):
        row = ImportRow(line=line)
        for name, index in mapping.items():
            cell = record[index].strip() if index < len(record) else ""
            if len(cell) > FIELD_MAX[name]:
                row.errors.append(f"{name}: слишком длинно / too long ({len(cell)} > {FIELD_MAX[name]})")
                continue
            if name == "phone" and cell:
                try:
                    cell = phone_clean(cell)
                except ValueError as exc:
                    row.errors.append(f"phone: {exc}")
                    continue
            if name == "email" and cell:
                try:
                    validate_email(cell)
                except ValidationError:
                    row.errors.append("email: не e-mail / not an e-mail address")
                    continue
            if name == "tags":
                try:
                    row.values["tags"] = tags_clean(cell.replace(";", ",").replace("|", ",").split(","))
                except ValueError as exc:
                    row.errors.append(f"tags: {exc}")
                continue
            if any(not ch.isprintable() for ch in cell):
                cell = "".join(ch if ch.isprintable() else " " for ch in cell).strip()
            row.values[name] = cell
        if not row.errors and not row.values.get("name") and not row.values.get("phone"):
            row.errors.append("Нет ни имени, ни телефона / Neither a name nor a phone")
        checked.append(row)
    return checked


def rows_merge(rows: list[ImportRow]) -> tuple[list[ImportRow], int]:
    """The valid rows with the file's own duplicates merged by phone: the first row of a phone keeps its values,
    later ones fill its empty fields and add their tags. Returns (merged rows, how many rows were folded in)."""
    merged: list[ImportRow] = []
    by_phone: dict[str, ImportRow] = {}
    folded = 0
    for row in rows:
        if row.errors:
            continue
        phone = row.values.get("phone") or ""
        first = by_phone.get(phone) if phone else None
        if first is None:
            copy = ImportRow(line=row.line, values=dict(row.values))
            merged.append(copy)
            if phone:
                by_phone[phone] = copy
            continue
        folded += 1
        for name, value in row.values.items():
            if name == "tags":
                tags = list(first.values.get("tags") or [])
                first.values["tags"] = tags + [t for t in value if t not in tags]
            elif value and not first.values.get(name):
                first.values[name] = value
    return merged, folded
