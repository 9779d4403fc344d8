"""DRF glue shared by every app: paging, one JSON error shape, typed query parameters. The checks every input
passes before a view sees it are in buildcrm.api_input (the web layer); the schema's error answers in
core.api_schema."""
from __future__ import annotations

from django.conf import settings
from django.core.exceptions import RequestDataTooBig, SuspiciousOperation
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers, status
from rest_framework.exceptions import ParseError, ValidationError
from rest_framework.pagination import PageNumberPagination
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from core.api_errors import PayloadTooLarge

BIGINT = 2**63 - 1  # PostgreSQL's bigint: the largest id a query or a body may name


class Pagination(PageNumberPagination):
    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 200


def exception_handler(exc, context):
    """Errors are JSON with `detail`; validation errors keep their field map and gain a `detail` line."""
    from django.core.exceptions import ValidationError as DjangoValidationError

    if isinstance(exc, DjangoValidationError):
        exc = ValidationError(detail=exc.message_dict if hasattr(exc, "error_dict") else exc.messages)
    elif isinstance(exc, RequestDataTooBig):  # a body over DATA_UPLOAD_MAX_MEMORY_SIZE, met while parsing it
        exc = PayloadTooLarge(f"Тело запроса больше {settings.DATA_UPLOAD_MAX_MEMORY_SIZE} байт.")
    elif isinstance(exc, SuspiciousOperation):  # more form fields than Django allows, a broken multipart…
        exc = ParseError(f"Неверное тело запроса: {exc}")
    response = drf_exception_handler(exc, context)
    if response is None:
        return None
    data = response.data
    if response.status_code == status.HTTP_400_BAD_REQUEST:
        if isinstance(data, list):
            data = {"detail": " ".join(str(x) for x in data)}
        elif isinstance(data, dict) and "detail" not in data:
            first = next(iter(data.items()), None)
            if first:
                key, value = first
                message = value[0] if isinstance(value, list) and value else value
                data = {**data, "detail": f"{key}: {message}"}
    return Response(data, status=response.status_code, headers=getattr(response, "headers", None))


# --- typed query parameters ---------------------------------------------------------------------------------


def query_params(request, serializer_class: type[serializers.Serializer]) -> dict:
    """A view's query parameters checked by its serializer (a 400 with the field's error when wrong);
    the selector gets typed values, absent ones left out."""
    given = request.query_params.copy()
    for name in [name for name, values in given.lists() if not any(values)]:
        del given[name]  # `?q=&stage=` (an untouched form): as if not given
    data = serializer_class(data=given)
    data.is_valid(raise_exception=True)
    return data.validated_data


def _joined(field: serializers.Field, dictionary):
    """A list parameter's values, repeated (`a=1&a=2`, as the schema gives it) or comma-separated (`a=1,2`)."""
    values = dictionary.getlist(field.field_name) if hasattr(dictionary, "getlist") else \
        [dictionary[field.field_name]] if field.field_name in dictionary else []
    return ",".join(str(value) for value in values) if values else serializers.empty


class CommaSeparatedField(serializers.ListField):
    """A list of ids or choices in a query: `stage=3&stage=4` or `stage=3,4`; each item checked by `child`
    (an empty item is a wrong one)."""

    def get_value(self, dictionary):
        return _joined(self, dictionary)

    def to_internal_value(self, data):
        if isinstance(data, str):
            data = [part.strip() for part in data.split(",")]
        return super().to_internal_value(data)


@extend_schema_field({"type": "string", "maxLength": 500,
                      "description": "Comma-separated values (the parameter may also repeat); blanks are skipped."})
class TextListField(serializers.Field):
    """Free words in a query (`source=site,instagram`): any text, split at commas, blank items skipped. A string
    in the schema, not an array: any value is text here, so none is of a wrong type."""

    def get_value(self, dictionary):
        return _joined(self, dictionary)

    def to_internal_value(self, data):
        text = str(data)
        if len(text) > 500:
            raise ValidationError("Не длиннее 500 символов.")
        return [part.strip() for part in text.split(",") if part.strip()]


class QueryBooleanField(serializers.BooleanField):
    """true/false in a query; absent is absent (DRF's BooleanField reads a form's missing checkbox as false)."""

    default_empty_html = serializers.empty


class IdField(serializers.IntegerField):
    """A database id: a positive bigint."""

    def __init__(self, **kwargs):
        kwargs.setdefault("min_value", 1)
        kwargs.setdefault("max_value", BIGINT)
        super().__init__(**kwargs)


# --- request bodies: JSON types as the schema states them ---------------------------------------------------


def _json_type_problem(field: serializers.Field, value) -> str | None:
    """Why a JSON value has the wrong type for `field` (DRF would quietly turn 5 into "5", "1" into 1 or
    "yes" into True), or None. Form data carries only text: this applies to JSON bodies."""
    if value is None or isinstance(field, (serializers.JSONField, serializers.FileField)):
        return None
    if isinstance(field, serializers.BooleanField):
        return None if isinstance(value, bool) else "Нужно true или false."
    if isinstance(field, serializers.IntegerField):
        return None if isinstance(value, int) and not isinstance(value, bool) else "Нужно целое число."
    if isinstance(field, (serializers.FloatField, serializers.DecimalField)):
        return None if isinstance(value, (int, float)) and not isinstance(value, bool) else "Нужно число."
    if isinstance(field, (serializers.CharField, serializers.ChoiceField, serializers.DateField,
                          serializers.DateTimeField, serializers.TimeField)):
        return None if isinstance(value, str) else "Нужна строка."
    if isinstance(field, (serializers.ListField, serializers.ListSerializer)):
        if not isinstance(value, list):
            return "Нужен список."
        for item in value:
            problem = _json_type_problem(field.child, item)
            if problem:
                return f"Элемент списка: {problem[0].lower()}{problem[1:]}"
        return None
    if isinstance(field, (serializers.DictField, serializers.Serializer)):
        return None if isinstance(value, dict) else "Нужен объект."
    return None


class InputSerializer(serializers.Serializer):
    """Base of the API's input serializers: a JSON body's values must have the types the schema gives them
    (a 400 naming the field otherwise); nested inputs check their own."""

    def to_internal_value(self, data):
        if isinstance(data, dict) and not hasattr(data, "getlist"):  # JSON, not a form's QueryDict
            errors = {}
            for name, field in self.fields.items():
                if not field.read_only and name in data:
                    problem = _json_type_problem(field, data[name])
                    if problem:
                        errors[name] = [problem]
            if errors:
                raise ValidationError(errors)
        return super().to_internal_value(data)
