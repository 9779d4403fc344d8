"""The OpenAPI schema's class: drf-spectacular's, plus the error answers every operation can give. Apart from
core.api because drf-spectacular imports DRF's generic views, which read core.api's paginator."""
from __future__ import annotations

from drf_spectacular.openapi import AutoSchema as SpectacularAutoSchema
from drf_spectacular.plumbing import ResolvedComponent
from rest_framework import serializers
from rest_framework.permissions import AllowAny

ERROR_SCHEMA = {
    "type": "object",
    "description": "An error: `detail` says what is wrong; a validation error also maps each bad field to its "
                   "messages.",
    "properties": {"detail": {"type": "string"}},
    "required": ["detail"],
    "additionalProperties": True,
}
ERROR_DESCRIPTIONS = {
    "400": "Malformed input: a bad value, NUL or a lone surrogate anywhere, a value out of range.",
    "401": "No or bad credentials.",
    "403": "The role may not do this (or a session request without its CSRF token).",
    "404": "No such object, or not visible to this user.",
    "413": "The body is too large.",
    "429": "Too many attempts; try again later.",
}


# Some character that str.strip() keeps (every str.isspace() character listed: generators read `\S` as ASCII).
NOT_ONLY_SPACE = r"[^\t\n\x0b\x0c\r\x1c-\x20\x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]"


class AutoSchema(SpectacularAutoSchema):
    """drf-spectacular's schema plus the error answers every operation can give, as one `Error` component:
    400 always (the query check applies to every request), 401/403 where credentials or a role are checked,
    404 where the path names an object, 413 where a body is read. Codes a view declares itself are kept."""

    def _get_response_bodies(self, direction="response"):
        responses = super()._get_response_bodies(direction)
        if direction != "response":
            return responses
        codes = ["400"]
        if self.view.get_authenticators():
            codes.append("401")
        if self.view.get_authenticators() or any(
                not isinstance(permission, AllowAny) for permission in self.view.get_permissions()):
            codes.append("403")
        if "{" in self.path or getattr(self.view, "pagination_class", None):  # an object, or a page, that is not
            codes.append("404")
        if self.method in ("POST", "PUT", "PATCH"):
            codes.append("413")
        for code in codes:
            responses.setdefault(code, self.error_response(code))
        return responses

    def _get_parameters(self):
        parameters = super()._get_parameters()
        for parameter in parameters:  # `?q=&stage=` is as if not given (core.api.query_params)
            if parameter.get("in") == "query" and not parameter.get("required"):
                parameter.setdefault("allowEmptyValue", True)
        return parameters

    def _get_response_for_code(self, serializer, status_code, media_types=None, direction="response"):
        if serializer is ERROR:
            return self.error_response(str(status_code))
        return super()._get_response_for_code(serializer, status_code, media_types, direction)

    def error_response(self, code: str) -> dict:
        component = ResolvedComponent(name="Error", type=ResolvedComponent.SCHEMA, object="core.api.Error",
                                      schema=ERROR_SCHEMA)
        self.registry.register_on_missing(component)
        return {"description": ERROR_DESCRIPTIONS.get(code, "Error."),
                "content": {"application/json": {"schema": component.ref}}}

    def _get_serializer_field_meta(self, field, direction):
        meta = super()._get_serializer_field_meta(field, direction)
        # DRF trims text before its blank check: "   " is as blank as "" for a field that may not be blank.
        if (direction == "request" and isinstance(field, serializers.CharField) and not field.allow_blank
                and field.trim_whitespace and type(field) is serializers.CharField):
            meta.setdefault("pattern", NOT_ONLY_SPACE)
        return meta


# Use as a response in `extend_schema(responses={429: ERROR})`: the shared `Error` component.
ERROR = object()
