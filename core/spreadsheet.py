"""CSV files people open in a spreadsheet: UTF-8 with a BOM (Excel then reads Cyrillic right), CRLF rows, and no
cell that a spreadsheet would run as a formula (CSV injection: a text starting with = + - @, tab or CR gets a
leading apostrophe). The leads export and the analytics tables' exports both write through here."""
from __future__ import annotations

import codecs
import csv
import io
from collections.abc import Iterable

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def cell_safe(value: object) -> str:
    """A cell as text a spreadsheet shows as it is: None → empty, a formula-looking text → '-prefixed, a number as
    written (a negative number is a number, not a formula)."""
    if value is None:
        return ""
    if isinstance(value, str):
        return "'" + value if value.startswith(FORMULA_STARTS) else value
    return str(value)


def csv_bytes(header: list[str], rows: Iterable[Iterable[object]]) -> bytes:
    """The whole file: BOM, the header row and every row, every cell made safe."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow([cell_safe(h) for h in header])
    for row in rows:
        writer.writerow([cell_safe(v) for v in row])
    return codecs.BOM_UTF8 + out.getvalue().encode("utf-8")
