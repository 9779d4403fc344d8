"""DRF glue shared by every app: paging and one JSON error shape."""
from rest_framework import status
from rest_framework.exceptions import ValidationError
from rest_framework.pagination import PageNumberPagination
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler


class Pagination(PageNumberPagination):
    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 200


def exception_handler(exc, context):
    """Errors are JSON with `detail`; validation errors keep their field map and gain a `detail` line."""
    from django.core.exceptions import ValidationError as DjangoValidationError

    if isinstance(exc, DjangoValidationError):
        exc = ValidationError(detail=exc.message_dict if hasattr(exc, "error_dict") else exc.messages)
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
