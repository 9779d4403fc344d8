"""Web Push (RFC 8030/8291/8292): VAPID keys and one encrypted push to the push service a browser gave us.

Pure: knows the protocol and HTTP, never our models. The push service is whatever `endpoint` the browser's
pushManager.subscribe() returned (FCM, Mozilla autopush, Apple …); tests stand it in with a local HTTP server.
Encryption (aes128gcm) and the VAPID JWT come from pywebpush / py_vapid; the POST goes through httpx."""

from __future__ import annotations

import base64
import json
import logging
import os
import time
from dataclasses import dataclass
from urllib.parse import urlsplit

import httpx
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from py_vapid import Vapid02
from pywebpush import WebPusher

log = logging.getLogger("buildcrm.integrations")

TIMEOUT = httpx.Timeout(5.0)
# Push services keep an undelivered push this long (the phone may be off); a "new lead" older than a day is noise.
TTL_SECONDS = 24 * 3600
MAX_PAYLOAD = 3000  # push services accept ~4 KB of ciphertext


class PushGone(Exception):
    """404/410: the subscription no longer exists (the user revoked it, the browser dropped it): forget it."""


class PushFailed(Exception):
    """Not delivered. `retryable`: a 5xx, 429 or a network failure — try again later."""

    def __init__(self, message: str, *, retryable: bool, status_code: int | None = None) -> None:
        super().__init__(message)
        self.retryable = retryable
        self.status_code = status_code


@dataclass(frozen=True)
class VapidKeys:
    private_key: str  # base64url of the raw 32-byte P-256 scalar
    public_key: str  # base64url of the uncompressed point: the PWA's applicationServerKey


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def vapid_keys_new() -> VapidKeys:
    key = ec.generate_private_key(ec.SECP256R1())
    raw_private = key.private_numbers().private_value.to_bytes(32, "big")
    raw_public = key.public_key().public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
    )
    return VapidKeys(private_key=_b64url(raw_private), public_key=_b64url(raw_public))


_CLIENT: dict[int, httpx.Client] = {}


def _shared_client() -> httpx.Client:
    """One client per process, kept: a new one builds its TLS context (~100 ms, most of a push's cost) and opens a new
    connection; push services are few hosts, so kept-alive connections serve most pushes. (Per pid: a forked worker
    must not share its parent's sockets.)"""
    pid = os.getpid()
    if pid not in _CLIENT:
        _CLIENT.clear()
        _CLIENT[pid] = httpx.Client(timeout=TIMEOUT, limits=httpx.Limits(max_connections=20))
    return _CLIENT[pid]


def send(
    *,
    endpoint: str,
    p256dh: str,
    auth: str,
    payload: dict,
    private_key: str,
    subject: str,
    ttl: int = TTL_SECONDS,
    urgency: str = "high",
    client: httpx.Client | None = None,
) -> int:
    """Encrypts `payload` (JSON) for the subscription and POSTs it with a VAPID Authorization. Returns the push
    service's status (201). Raises PushGone on 404/410, PushFailed otherwise."""
    data = json.dumps(payload, ensure_ascii=False).encode()
    if len(data) > MAX_PAYLOAD:
        raise PushFailed(f"push payload too large ({len(data)} bytes)", retryable=False)
    try:
        encoded = WebPusher({"endpoint": endpoint, "keys": {"p256dh": p256dh, "auth": auth}}).encode(
            data, content_encoding="aes128gcm"
        )
    except Exception as exc:  # a subscription with keys that are not P-256 points: never deliverable
        raise PushFailed(f"push keys unusable: {exc}", retryable=False) from exc
    url = urlsplit(endpoint)
    claims = {"sub": subject, "aud": f"{url.scheme}://{url.netloc}", "exp": int(time.time()) + 12 * 3600}
    headers = dict(Vapid02.from_string(private_key=private_key).sign(claims))
    headers.update({"TTL": str(ttl), "Urgency": urgency, "Content-Encoding": "aes128gcm",
                    "Content-Type": "application/octet-stream"})
    try:
        response = (client or _shared_client()).post(endpoint, content=encoded["body"], headers=headers)
    except httpx.HTTPError as exc:
        raise PushFailed(f"push service unreachable: {exc.__class__.__name__}", retryable=True) from exc
    status = response.status_code
    if status in (404, 410):
        raise PushGone(f"push subscription gone ({status})")
    if status >= 400:
        raise PushFailed(f"push service answered {status}: {response.text[:200]}",
                         retryable=status >= 500 or status == 429, status_code=status)
    return status
