"""The Host header read one way everywhere: tenant lookup, the webhook fast path and websockets."""
from __future__ import annotations


def scope_header(scope, name: bytes) -> str:
    """An ASGI scope's header (lower-case name) as text; "" when absent."""
    for key, value in scope.get("headers", ()):
        if key == name:
            return value.decode("latin-1")
    return ""


def hostname(host: str) -> str:
    """The name a Host header carries: port stripped, lower case, no trailing dot."""
    return host.split(":", 1)[0].strip().lower().rstrip(".")
