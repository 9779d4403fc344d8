"""Structured editors for the global admin's list-like settings (issue 16): follow-up steps, facts, qualification
fields, the first contact chain, campaigns, re-engagement and the amoCRM maps were raw JSON textareas.

Each setting is a table of rows with one input per key of the configuration schema (tenants/config.py SPEC), a
"delete" box per row and a blank row to add one more (a button adds further blank rows). Nested lists (an album's
items, a campaign's steps) and free objects (a fact's `when`) stay small JSON cells. Validation stays
`tenants.config.validate`; its error (`followups.steps[1].after_minutes: must be a number`) is shown in the cell it
names, in the admin's language. A post that carries the setting as one JSON string (scripts, older tests) still
works.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

from django import forms
from django.utils.html import format_html, format_html_join
from django.utils.safestring import mark_safe
from django.utils.translation import get_language

from tenants import config as tconfig

STR, TEXT, NUM, BOOL, CHOICE, WORDS, JSONCELL = "str", "text", "num", "bool", "choice", "words", "json"


@dataclass(frozen=True)
class Column:
    key: str  # a key of the row object; "window.start" reaches into a nested object
    kind: str
    ru: str
    en: str
    choices: tuple[str, ...] = ()


@dataclass(frozen=True)
class Editor:
    columns: tuple[Column, ...]
    shape: str = "list"  # list: rows are the list's items; object: one row is the object; map: rows are key → value


_C = Column
EDITORS: dict[str, Editor] = {
    "ai_facts": Editor((
        _C("keywords", WORDS, "Ключевые слова (через запятую)", "Keywords (comma-separated)"),
        _C("text", TEXT, "Ответ", "Answer"), _C("text_en", TEXT, "Ответ (EN)", "Answer (EN)"),
        _C("when", JSONCELL, "Условие (JSON-объект)", "Condition (JSON object)"),
    )),
    "qualification": Editor((
        _C("key", STR, "Ключ", "Key"), _C("label", STR, "Название", "Label"),
        _C("label_en", STR, "Название (EN)", "Label (EN)"),
        _C("type", CHOICE, "Тип", "Type", tconfig.FIELD_TYPES), _C("required", BOOL, "Обязательное", "Required"),
        _C("hint", STR, "Подсказка", "Hint"),
        _C("choices", WORDS, "Варианты (через запятую)", "Choices (comma-separated)"),
        _C("keywords", WORDS, "Ключевые слова", "Keywords"),
    )),
    "first_contact": Editor((
        _C("type", CHOICE, "Тип", "Type", ("text", "image", "album", "link", "voice", "video", "document", "content")),
        _C("text", TEXT, "Текст", "Text"), _C("url", STR, "URL", "URL"), _C("caption", STR, "Подпись", "Caption"),
        _C("content_id", NUM, "Контент id", "Content id"),
        _C("items", JSONCELL, "Альбом: [{url, caption}]", "Album: [{url, caption}]"),
    )),
    "followup_steps": Editor((
        _C("after_minutes", NUM, "Через, мин", "After, min"), _C("text", TEXT, "Текст", "Text"),
        _C("text_en", TEXT, "Текст (EN)", "Text (EN)"), _C("template", STR, "Шаблон WhatsApp", "WhatsApp template"),
    )),
    "reengagement": Editor((
        _C("enabled", BOOL, "Включена", "Enabled"), _C("after_days", NUM, "Через, дней", "After, days"),
        _C("every_days", NUM, "Повтор, дней", "Every, days"),
        _C("window.start", STR, "Окно: начало (HH:MM)", "Window: start (HH:MM)"),
        _C("window.end", STR, "Окно: конец (HH:MM)", "Window: end (HH:MM)"),
    ), shape="object"),
    "campaigns": Editor((
        _C("code", STR, "Код", "Code"), _C("name", STR, "Название", "Name"),
        _C("keywords", WORDS, "Ключевые слова", "Keywords"), _C("source", STR, "Источник", "Source"),
        _C("active", BOOL, "Активна", "Active"), _C("text", TEXT, "Текст сразу", "Text at once"),
        _C("content_id", NUM, "Контент id", "Content id"),
        _C("steps", JSONCELL, "Шаги: [{after_minutes, text, content_id}]",
           "Steps: [{after_minutes, text, content_id}]"),
    )),
    "amo_stage_map": Editor((_C("key", STR, "Этап (kind)", "Stage (kind)"),
                             _C("value", STR, "status_id amoCRM", "amoCRM status_id")), shape="map"),
    "amo_responsible_map": Editor((_C("key", STR, "Email", "Email"),
                                   _C("value", STR, "Ответственный в amoCRM (id)", "amoCRM responsible (id)")),
                                  shape="map"),
}


def _ru() -> bool:
    return (get_language() or "ru").split("-")[0] != "en"


# tenants.config's messages (English) as the Russian admin reads them; anything unmatched is shown as is.
MESSAGES_RU: list[tuple[re.Pattern, str]] = [(re.compile(p), r) for p, r in [
    (r"^must be a string$", "должно быть строкой"),
    (r"^must be true or false$", "должно быть да или нет"),
    (r"^must be an integer$", "должно быть целым числом"),
    (r"^must not be negative$", "не может быть отрицательным"),
    (r"^must be a number$", "должно быть числом"),
    (r"^must be greater than zero$", "должно быть больше нуля"),
    (r"^must be a time HH:MM$", "должно быть временем ЧЧ:ММ (HH:MM)"),
    (r"^unknown time zone (.*)$", r"неизвестный часовой пояс \1"),
    (r"^must be an http\(s\) URL$", "должно быть адресом http(s)://…"),
    (r"^must be one of (.*)$", r"допустимо одно из: \1"),
    (r"^must be an object$", "должно быть объектом {…}"),
    (r"^must be a list$", "должно быть списком […]"),
    (r"^unknown key$", "неизвестный ключ"),
    (r"^is required$", "обязательно"),
    (r"^must be lower_snake_case$", "только строчные латинские буквы, цифры и _ (lower_snake_case)"),
    (r"^a choice field needs choices$", "у поля с выбором должны быть варианты"),
    (r"^field key (.*) appears twice$", r"ключ поля \1 повторяется"),
    (r"^is required for a (\w+) step$", r"обязательно для шага типа \1"),
    (r"^must be 1-64 letters, digits, _ or -$", "1–64 буквы, цифры, _ или -"),
    (r"^at most 5 onboarding steps$", "не больше 5 шагов онбординга"),
    (r"^a step needs text or content_id$", "у шага должен быть текст или content_id"),
    (r"^must be an Instagram account id \(digits\)$", "должно быть id аккаунта Instagram (цифры)"),
    (r"^invalid JSON: (.*)$", r"неверный JSON: \1"),
    (r"^see the marked cells$", "см. отмеченные ячейки"),
]]


def message(text: str) -> str:
    """A validation message in the admin's language (the active Django language: ru or en)."""
    if not _ru():
        return text
    for pattern, ru in MESSAGES_RU:
        if pattern.match(text):
            return pattern.sub(ru, text)
    return text


@dataclass
class Rows:
    """A structured setting as posted: the value built from the rows (cells that did not parse keep their text)
    and the cells' own errors, keyed by (row index in `value`, column key)."""

    value: Any
    cell_errors: dict[tuple[int, str], str] = field(default_factory=dict)


def _get_path(obj: dict, dotted: str):
    for part in dotted.split("."):
        if not isinstance(obj, dict) or part not in obj:
            return None
        obj = obj[part]
    return obj


def _set_path(obj: dict, dotted: str, value) -> None:
    parts = dotted.split(".")
    for part in parts[:-1]:
        obj = obj.setdefault(part, {})
    obj[parts[-1]] = value


def _cell_text(column: Column, value) -> str:
    if value is None:
        return ""
    if column.kind == WORDS:
        return ", ".join(str(x) for x in value) if isinstance(value, list) else str(value)
    if column.kind == JSONCELL:
        return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    if column.kind == BOOL:
        return "" if value is None else ("1" if value is True else "0" if value is False else str(value))
    if column.kind == NUM and isinstance(value, float) and value.is_integer():
        return str(int(value))
    if column.kind == STR and not isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    return str(value)


def _parse_cell(column: Column, raw: str):
    """(value, error): the cell's value for the document, None to leave the key out, or an error message."""
    raw = raw.strip()
    if raw == "":
        return None, None
    if column.kind == NUM:
        try:
            number = float(raw.replace(",", "."))
        except ValueError:
            return raw, message("must be a number")
        return (int(number) if number.is_integer() else number), None
    if column.kind == BOOL:
        return {"1": True, "0": False}.get(raw, raw), None
    if column.kind == WORDS:
        return [w.strip() for w in raw.split(",") if w.strip()], None
    if column.kind == JSONCELL:
        try:
            return json.loads(raw), None
        except json.JSONDecodeError as exc:
            return raw, message(f"invalid JSON: {exc.msg}")
    return raw, None


class RowsWidget(forms.Widget):
    """A table of rows for one structured setting; its inputs are named `<field>-<row>-<column>`."""

    def __init__(self, editor: Editor, attrs=None):
        super().__init__(attrs)
        self.editor = editor
        self.cell_errors: dict[tuple[int, str], str] = {}

    def value_from_datadict(self, data, files, name):
        if name in data:  # the whole setting as one JSON string
            return data.get(name)
        if f"{name}-count" not in data:
            return None
        try:
            count = min(max(int(data.get(f"{name}-count", 0)), 0), 500)
        except (TypeError, ValueError):
            count = 0
        rows, errors = [], {}
        for i in range(count):
            if data.get(f"{name}-{i}-DELETE"):
                continue
            row: dict = {}
            row_errors: dict[str, str] = {}
            for column in self.editor.columns:
                value, error = _parse_cell(column, str(data.get(f"{name}-{i}-{column.key}", "")))
                if error:
                    row_errors[column.key] = error
                if value is not None:
                    _set_path(row, column.key, value)
            if not row and not row_errors:
                continue  # a blank row adds nothing
            for key, error in row_errors.items():
                errors[(len(rows), key)] = error
            rows.append(row)
        if self.editor.shape == "object":
            return Rows(rows[0] if rows else {}, errors)
        if self.editor.shape == "map":
            mapped: dict = {}
            for row in rows:
                key = str(row.get("key", "")).strip()
                if key:
                    value = row.get("value", "")
                    try:  # ids are numbers; anything else stays text
                        value = json.loads(value) if isinstance(value, str) else value
                    except json.JSONDecodeError:
                        pass
                    mapped[key] = value
            return Rows(mapped, errors)
        return Rows(rows, errors)

    def value_omitted_from_data(self, data, files, name):
        return name not in data and f"{name}-count" not in data

    def _rows_of(self, value) -> list[dict]:
        if isinstance(value, Rows):
            value = value.value
        if isinstance(value, str):
            try:
                value = json.loads(value) if value.strip() else None
            except json.JSONDecodeError:
                value = None
        if self.editor.shape == "object":
            return [value] if isinstance(value, dict) and value else []
        if self.editor.shape == "map":
            return [{"key": k, "value": v} for k, v in value.items()] if isinstance(value, dict) else []
        return [row if isinstance(row, dict) else {} for row in value] if isinstance(value, list) else []

    def _cell(self, name: str, index: int | str, column: Column, value, ru: bool):
        cell_name = f"{name}-{index}-{column.key}"
        text = _cell_text(column, value)
        label = column.ru if ru else column.en
        if column.kind == BOOL:
            options = [("", "—"), ("1", "да" if ru else "yes"), ("0", "нет" if ru else "no")]
            if text not in ("", "1", "0"):
                options.append((text, text))
            widget = format_html('<select name="{}" aria-label="{}">{}</select>', cell_name, label, format_html_join(
                "", '<option value="{}"{}>{}</option>', ((v, mark_safe(" selected") if v == text else "", t)
                                                        for v, t in options)))
        elif column.kind == CHOICE:
            options = [("", "—")] + [(c, c) for c in column.choices]
            if text and text not in column.choices:
                options.append((text, text))
            widget = format_html('<select name="{}" aria-label="{}">{}</select>', cell_name, label, format_html_join(
                "", '<option value="{}"{}>{}</option>', ((v, mark_safe(" selected") if v == text else "", t)
                                                        for v, t in options)))
        elif column.kind in (TEXT, JSONCELL):
            widget = format_html('<textarea name="{}" rows="2" cols="28" aria-label="{}">{}</textarea>',
                                 cell_name, label, text)
        else:
            widget = format_html('<input type="text" name="{}" value="{}" size="{}" aria-label="{}">',
                                 cell_name, text, 8 if column.kind == NUM else 16, label)
        error = self.cell_errors.get((index, column.key)) if isinstance(index, int) else None
        if error:
            return format_html('<td class="errors">{}<ul class="errorlist" data-cell="{}"><li>{}</li></ul></td>',
                               widget, cell_name, error)
        return format_html("<td>{}</td>", widget)

    def _row(self, name: str, index: int | str, row: dict, ru: bool, deletable: bool):
        cells = format_html_join("", "{}", ((self._cell(name, index, c, _get_path(row, c.key), ru),)
                                            for c in self.editor.columns))
        delete = format_html('<td><label><input type="checkbox" name="{}-{}-DELETE"> {}</label></td>', name, index,
                             "удалить" if ru else "delete") if deletable else mark_safe("<td></td>")
        return format_html('<tr class="structured-row">{}{}</tr>', cells, delete)

    def render(self, name, value, attrs=None, renderer=None):
        ru = _ru()
        rows = self._rows_of(value)
        single = self.editor.shape == "object"
        blank = 0 if single and rows else 1  # one blank row to add a new item without scripts
        head = format_html_join("", "<th>{}</th>", ((c.ru if ru else c.en,) for c in self.editor.columns))
        body = format_html_join("", "{}", ((self._row(name, i, row, ru, not single),) for i, row in enumerate(rows)))
        extra = format_html_join("", "{}", ((self._row(name, len(rows) + j, {}, ru, False),) for j in range(blank)))
        template = self._row(name, "__i__", {}, ru, False)
        add = "" if single else format_html(
            '<button type="button" class="button" data-add-row="{}">{}</button>', name,
            "+ строка" if ru else "+ row")
        return format_html(
            '<div class="structured-editor" id="structured-{}" data-name="{}" style="overflow-x:auto;max-width:100%">'
            '<input type="hidden" name="{}-count" value="{}">'
            '<table><thead><tr>{}<th></th></tr></thead><tbody>{}{}</tbody></table>'
            '<template>{}</template>{}</div>{}',
            name, name, name, len(rows) + blank, head, body, extra, template, add, _ADD_ROW_SCRIPT)


# Adds a blank row (the <template> with its index filled in) and counts it; one copy per page is enough, but every
# editor carries it so each works alone; the flag keeps the listener single.
_ADD_ROW_SCRIPT = mark_safe(
    # Only the cell at fault is red (the admin reddens every input of a field row with an error), its message
    # under its input.
    "<style>.structured-editor td{vertical-align:top}"
    ".structured-editor input,.structured-editor select,.structured-editor textarea{border-color:var(--border-color)}"
    ".structured-editor td.errors input,.structured-editor td.errors select,.structured-editor td.errors textarea"
    "{border-color:var(--error-fg)}.structured-editor td ul.errorlist{display:block;margin:2px 0 0;padding:0;"
    "max-width:16em}</style>"
    "<script>(function(){if(window.__structuredRows)return;window.__structuredRows=true;"
    "document.addEventListener('click',function(e){var b=e.target.closest('[data-add-row]');if(!b)return;"
    "var box=document.getElementById('structured-'+b.dataset.addRow),"
    "count=box.querySelector('input[name$=\"-count\"]'),"
    "n=parseInt(count.value,10)||0,html=box.querySelector('template').innerHTML.split('__i__').join(String(n));"
    "box.querySelector('tbody').insertAdjacentHTML('beforeend',html);count.value=String(n+1);});})();</script>")


class StructuredField(forms.Field):
    """The form field behind a RowsWidget: its cleaned value is the setting's Python value (list, object)."""

    def __init__(self, editor: Editor, **kwargs):
        self.editor = editor
        kwargs.setdefault("required", False)
        super().__init__(widget=RowsWidget(editor), **kwargs)

    def empty(self):
        return {} if self.editor.shape in ("object", "map") else []

    def to_python(self, value):
        if value is None or value == "":
            return self.empty()
        if isinstance(value, Rows):
            self.widget.cell_errors = dict(value.cell_errors)
            if value.cell_errors:
                raise forms.ValidationError(message("see the marked cells"))
            return value.value
        if isinstance(value, str):
            try:
                return json.loads(value)
            except json.JSONDecodeError as exc:
                raise forms.ValidationError(message(f"invalid JSON: {exc}")) from None
        return value

    def bound_data(self, data, initial):
        return data if data is not None else initial


_INDEX = re.compile(r"^\[(\d+)\]\.?(.*)$")


def place_error(editor: Editor, widget: RowsWidget, rest: str, text: str) -> bool:
    """Puts a validation error in the cell `rest` names (`[1].after_minutes`, `.window.start`); False when it names
    no cell (the error then stays on the whole setting)."""
    if editor.shape == "object":
        key = rest.lstrip(".")
        column = next((c for c in editor.columns if c.key == key or key.startswith(c.key + ".")), None)
        if column is None:
            return False
        widget.cell_errors[(0, column.key)] = text
        return True
    if editor.shape != "list":
        return False
    match = _INDEX.match(rest)
    if not match:
        return False
    row, tail = int(match.group(1)), match.group(2)
    head = re.split(r"[.\[]", tail, maxsplit=1)[0] if tail else ""
    column = next((c for c in editor.columns if c.key == head), None)
    if column is None:
        return False
    widget.cell_errors[(row, column.key)] = text
    return True
