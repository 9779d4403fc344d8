"""A local stand-in for a browser's push service (FCM, autopush …): it checks what RFC 8292/8291 ask of a sender — a
VAPID JWT signed by the key it names, for this origin, not expired, with a subject — and decrypts the aes128gcm body
with the browser's own private key, as the browser would. Answers queued statuses, then 201."""

from __future__ import annotations

import base64
import json
import os
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import http_ece
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unb64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@dataclass
class Browser:
    """One device's push keys, as pushManager.subscribe() makes them."""

    private: ec.EllipticCurvePrivateKey = field(default_factory=lambda: ec.generate_private_key(ec.SECP256R1()))
    auth: bytes = field(default_factory=lambda: os.urandom(16))

    @property
    def p256dh(self) -> str:
        return b64url(self.private.public_key().public_bytes(serialization.Encoding.X962,
                                                             serialization.PublicFormat.UncompressedPoint))

    @property
    def auth_b64(self) -> str:
        return b64url(self.auth)


@dataclass
class Received:
    path: str
    headers: dict
    claims: dict
    vapid_key: str
    payload: dict | None
    problem: str = ""
    at: float = 0.0


def check_vapid(authorization: str, origin: str) -> tuple[dict, str]:
    """(claims, public key) of a valid `vapid t=…, k=…` header; raises AssertionError otherwise."""
    assert authorization.startswith("vapid "), authorization
    parts = dict(part.strip().split("=", 1) for part in authorization[len("vapid "):].split(","))
    token, key = parts["t"], parts["k"]
    head, body, signature = token.split(".")
    assert json.loads(unb64url(head)) == {"typ": "JWT", "alg": "ES256"}
    public = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), unb64url(key))
    raw = unb64url(signature)
    der = encode_dss_signature(int.from_bytes(raw[:32], "big"), int.from_bytes(raw[32:], "big"))
    public.verify(der, f"{head}.{body}".encode(), ec.ECDSA(hashes.SHA256()))  # raises InvalidSignature
    claims = json.loads(unb64url(body))
    assert claims["aud"] == origin, claims
    assert claims["exp"] > time.time() and claims["exp"] <= time.time() + 24 * 3600, claims
    assert claims["sub"].startswith(("mailto:", "https:")), claims
    return claims, key


class PushService:
    def __init__(self) -> None:
        self.browsers: dict[str, Browser] = {}  # path → the device subscribed there
        self.received: list[Received] = []
        self.statuses: list[int] = []
        self.arrived = threading.Condition()
        service = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                headers = {k.lower(): v for k, v in self.headers.items()}
                record = Received(path=self.path, headers=headers, claims={}, vapid_key="", payload=None,
                                  at=time.perf_counter())
                try:
                    record.claims, record.vapid_key = check_vapid(headers.get("authorization", ""), service.url)
                    assert headers.get("content-encoding") == "aes128gcm", headers
                    assert int(headers.get("ttl", "-1")) >= 0, headers
                    browser = service.browsers[self.path]
                    plain = http_ece.decrypt(body, private_key=browser.private, auth_secret=browser.auth,
                                             version="aes128gcm")
                    record.payload = json.loads(plain)
                except Exception as exc:  # recorded: the test asserts there was none
                    record.problem = f"{exc.__class__.__name__}: {exc}"
                with service.arrived:
                    status = service.statuses.pop(0) if service.statuses else 201
                    service.received.append(record)
                    service.arrived.notify_all()
                self.send_response(400 if record.problem else status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format, *args) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, args=(0.02,), daemon=True).start()
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"

    def subscribe(self, name: str) -> tuple[str, Browser]:
        """A new device's endpoint and keys."""
        path = f"/push/{name}"
        self.browsers[path] = Browser()
        return self.url + path, self.browsers[path]

    def wait_for(self, count: int, timeout: float = 10.0) -> list[Received]:
        with self.arrived:
            self.arrived.wait_for(lambda: len(self.received) >= count, timeout=timeout)
            return list(self.received)

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
