"""What Meta's Graph webhooks share, whichever product sends them (the WhatsApp Cloud API, Instagram
messaging): the GET subscription handshake and the `X-Hub-Signature-256` HMAC of the body with the app secret."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping

from integrations.base import WebhookError, normalise_headers, secrets_equal

SIGNATURE_HEADER = "x-hub-signature-256"


def verify_subscription(params: Mapping[str, str], config: dict) -> str:
    """Answer Meta's GET handshake: return hub.challenge when mode and verify token match."""
    mode = params.get("hub.mode")
    token = params.get("hub.verify_token")
    if mode != "subscribe" or not secrets_equal(token, str(config.get("verify_token") or "")):
        raise WebhookError(403, "verification failed: hub.mode must be 'subscribe' and hub.verify_token must match")
    challenge = params.get("hub.challenge")
    if challenge is None or challenge == "":
        raise WebhookError(400, "missing hub.challenge")
    return str(challenge)


def check_signature(body: bytes, headers: Mapping[str, str], config: dict, *, provider: str) -> None:
    """The body is Meta's: `X-Hub-Signature-256: sha256=<hex HMAC-SHA256 of the raw body with app_secret>`;
    WebhookError(403) otherwise (also when no app secret is set: fail closed)."""
    app_secret = str(config.get("app_secret") or "")
    if not app_secret:
        raise WebhookError(403, f"{provider} app_secret is not configured; cannot verify X-Hub-Signature-256")
    header = normalise_headers(headers).get(SIGNATURE_HEADER, "").strip()
    if not header:
        raise WebhookError(403, "missing X-Hub-Signature-256 header")
    algorithm, _, given = header.partition("=")
    if algorithm.lower() != "sha256" or not given:
        raise WebhookError(403, "X-Hub-Signature-256 must look like 'sha256=<hex>'")
    expected = hmac.new(app_secret.encode("utf-8"), body, hashlib.sha256).hexdigest()
    if not hmac.compare_digest(given.strip().lower().encode("ascii", "replace"), expected.encode("ascii")):
        raise WebhookError(403, "X-Hub-Signature-256 does not match the body")
