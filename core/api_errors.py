"""API errors raised both by the web layer's input checks (buildcrm.api_input) and by core.api's exception handler.
A module of its own that imports no DRF views: DRF imports the parsers that raise these while it builds APIView."""
from __future__ import annotations

from rest_framework import status
from rest_framework.exceptions import APIException


class PayloadTooLarge(APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_detail = "Тело запроса слишком велико."
    default_code = "payload_too_large"
