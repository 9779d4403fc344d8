"""Encryption at rest for tenant secrets (tokens, API keys), keyed by FIELD_ENCRYPTION_KEY."""
import base64
import hashlib

from cryptography.fernet import Fernet, InvalidToken
from django.conf import settings

PREFIX = "enc:v1:"
MASK = "••••••"


def _fernet() -> Fernet:
    # Any string works as FIELD_ENCRYPTION_KEY: derive a 32-byte Fernet key from it.
    digest = hashlib.sha256(settings.FIELD_ENCRYPTION_KEY.encode()).digest()
    return Fernet(base64.urlsafe_b64encode(digest))


def encrypt(value: str) -> str:
    if not value or value.startswith(PREFIX):
        return value
    return PREFIX + _fernet().encrypt(value.encode()).decode()


def decrypt(value: str) -> str:
    if not value or not value.startswith(PREFIX):
        return value
    try:
        return _fernet().decrypt(value[len(PREFIX):].encode()).decode()
    except InvalidToken as exc:
        raise ValueError("secret cannot be decrypted: FIELD_ENCRYPTION_KEY changed?") from exc


def mask(value: str) -> str:
    return MASK if value else ""
