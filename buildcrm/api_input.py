"""Checks every API input passes before a view sees it: the query string of every /api/ request (a middleware),
request bodies (DRF parsers), and Django's own error pages under /api/ as JSON. A module of its own: DRF imports the
parsers named in its settings while it builds APIView, so this one must not import DRF's views."""
from __future__ import annotations

import json
import math

from django.core.exceptions import SuspiciousOperation
from django.http import JsonResponse
from rest_framework import parsers
from rest_framework.exceptions import ParseError

MAX_QUERY_VALUE = 1000  # characters of one query parameter (a search box, a list of ids)
MAX_JSON_DEPTH = 32  # nesting of a JSON body: our deepest document (lead data, album items) needs 4


# --- text every input must satisfy --------------------------------------------------------------------------


def text_problem(value: str) -> str | None:
    """Why a piece of request text cannot be stored or searched, or None when it can."""
    if "\x00" in value:
        return "содержит нулевой символ (\\x00)"
    if any("\ud800" <= ch <= "\udfff" for ch in value):
        return "содержит одиночный суррогат UTF-16"
    return None


class ApiInputMiddleware:
    """Every request to /api/ has its query string checked before any view, selector or database sees it:
    NUL, lone surrogates and values over MAX_QUERY_VALUE characters are a 400 `{"detail"}` whatever the
    parameter (declared or not). Typed checks of each view's own parameters are its query serializer's job."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if request.path.startswith("/api/"):
            problem = self._query_problem(request)
            if problem:
                return JsonResponse({"detail": problem}, status=400)
        return self.get_response(request)

    @staticmethod
    def _query_problem(request) -> str | None:
        try:
            items = list(request.GET.lists())
        except SuspiciousOperation as exc:  # more parameters than DATA_UPLOAD_MAX_NUMBER_FIELDS
            return f"Неверная строка запроса: {exc}"
        for name, values in items:
            problem = text_problem(name)
            if problem:
                return f"Имя параметра {name[:40]!r} {problem}."
            for value in values:
                problem = text_problem(value)
                if problem:
                    return f"{name[:40]}: значение {problem}."
                if len(value) > MAX_QUERY_VALUE:
                    return f"{name[:40]}: значение длиннее {MAX_QUERY_VALUE} символов."
        return None


def api_error_view(status_code: int, default: str):
    """Django's own 400/404 pages as JSON `{"detail"}` under /api/ (an id that is not a number never reaches
    a view: no URL pattern matches it); the tenant's PWA keeps Django's pages elsewhere."""
    from django.views import defaults

    fallback = {400: defaults.bad_request, 404: defaults.page_not_found}[status_code]

    def view(request, exception=None):
        if request.path.startswith("/api/"):
            return JsonResponse({"detail": default}, status=status_code)
        return fallback(request, exception)

    return view


api_bad_request = api_error_view(400, "Неверный запрос.")
api_not_found = api_error_view(404, "Не найдено.")


# --- request bodies -----------------------------------------------------------------------------------------


def _body_problem(value, depth: int = 0, where: str = "") -> str | None:
    """The first thing of a parsed body we refuse to store: bad text (keys too), non-finite numbers, nesting
    deeper than MAX_JSON_DEPTH. Integers are the fields' business (an id field stops at bigint)."""
    if depth > MAX_JSON_DEPTH:
        return f"вложенность глубже {MAX_JSON_DEPTH} уровней"
    if isinstance(value, str):
        problem = text_problem(value)
        return f"{where or 'значение'}: {problem}" if problem else None
    if isinstance(value, float):
        return None if math.isfinite(value) else f"{where or 'значение'}: число вне диапазона"
    if isinstance(value, dict):
        for key, item in value.items():
            name = str(key)[:40]
            problem = text_problem(str(key))
            if problem:
                return f"{where}: ключ {name!r} {problem}" if where else f"ключ {name!r} {problem}"
            problem = _body_problem(item, depth + 1, f"{where}.{name}" if where else name)
            if problem:
                return problem
    if isinstance(value, list):
        for index, item in enumerate(value):
            problem = _body_problem(item, depth + 1, f"{where}[{index}]")
            if problem:
                return problem
    return None


def _reject_bad_body(data) -> None:
    problem = _body_problem(data)
    if problem:
        raise ParseError(f"Неверное тело запроса: {problem}.")


def _no_constant(name: str):
    raise ValueError(f"{name} is not valid JSON")


def _strict_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):  # 1e400 would be stored as Infinity, which jsonb refuses
        raise ValueError(f"number {text[:40]} is out of range")
    return value


class JSONParser(parsers.JSONParser):
    """JSON bodies (at most DATA_UPLOAD_MAX_MEMORY_SIZE: DRF reads them through request.body), strict (no NaN,
    Infinity or 1e400) and holding nothing the database cannot store (`_body_problem`): 400 before a serializer."""

    def parse(self, stream, media_type=None, parser_context=None):
        encoding = parsers.get_encoding(parser_context or {})
        try:
            text = stream.read().decode(encoding) if stream is not None else ""
            data = json.loads(text, parse_constant=_no_constant, parse_float=_strict_float)
        except (ValueError, UnicodeDecodeError) as exc:
            raise ParseError(f"JSON parse error - {exc}") from None
        except RecursionError:
            raise ParseError(f"Неверное тело запроса: вложенность глубже {MAX_JSON_DEPTH} уровней.") from None
        _reject_bad_body(data)
        return data


class FormParser(parsers.FormParser):
    def parse(self, stream, media_type=None, parser_context=None):
        data = super().parse(stream, media_type, parser_context)
        _reject_bad_body(dict(data.lists()))
        return data


class MultiPartParser(parsers.MultiPartParser):
    def parse(self, stream, media_type=None, parser_context=None):
        result = super().parse(stream, media_type, parser_context)
        _reject_bad_body(dict(result.data.lists()))
        return result
