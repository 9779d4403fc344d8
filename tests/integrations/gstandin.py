"""Local HTTP stand-ins for amoCRM and Google (OAuth token endpoint + Calendar v3).

Real servers on 127.0.0.1 (port 0, one thread per request) so the clients are exercised through their
real transports (httpx; httplib2 under google-api-python-client and google-auth). Every request is
recorded; `script()` queues canned answers (401/429/5xx/204/…) that take precedence over the default
behaviour.
"""

from __future__ import annotations

import itertools
import json
import re
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

GOOGLE_SCOPE = "https://www.googleapis.com/auth/calendar"


@dataclass
class Recorded:
    method: str
    path: str  # unquoted
    raw_path: str  # as sent, with the query string
    query: dict[str, list[str]]
    headers: dict[str, str]  # lower-case names
    body: bytes
    at: float  # time.monotonic() when the request arrived

    def json(self) -> Any:
        return json.loads(self.body)

    def form(self) -> dict[str, str]:
        return {k: v[0] for k, v in parse_qs(self.body.decode(), keep_blank_values=True).items()}


@dataclass
class Scripted:
    status: int
    body: Any = None
    method: str | None = None
    path: str | None = None  # regex, full match against the unquoted path
    headers: dict[str, str] = field(default_factory=dict)
    times: int = 1


Answer = tuple[int, Any, dict[str, str]]


class StandinServer:
    def __init__(self) -> None:
        self.requests: list[Recorded] = []
        self._scripts: list[Scripted] = []
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # lifecycle

    def start(self) -> StandinServer:
        standin = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:  # keep pytest output clean
                pass

            def _serve(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                split = urlsplit(self.path)
                recorded = Recorded(
                    method=self.command,
                    path=unquote(split.path),
                    raw_path=self.path,
                    query=parse_qs(split.query, keep_blank_values=True),
                    headers={k.lower(): v for k, v in self.headers.items()},
                    body=body,
                    at=time.monotonic(),
                )
                status, payload, headers = standin._dispatch(recorded)
                data = b""
                if payload is not None and status != 204:
                    data = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
                self.send_response(status)
                if data:
                    self.send_header("Content-Type", headers.pop("Content-Type", "application/json"))
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                if data:
                    self.wfile.write(data)

            do_GET = do_POST = do_PATCH = do_PUT = do_DELETE = _serve

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.02,), daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    @property
    def url(self) -> str:
        assert self._server is not None
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    # scripting

    def script(
        self,
        status: int,
        body: Any = None,
        *,
        method: str | None = None,
        path: str | None = None,
        headers: dict[str, str] | None = None,
        times: int = 1,
    ) -> None:
        with self._lock:
            self._scripts.append(Scripted(status, body, method, path, dict(headers or {}), times))

    def _dispatch(self, request: Recorded) -> Answer:
        with self._lock:
            self.requests.append(request)
            for scripted in self._scripts:
                if scripted.method and scripted.method != request.method:
                    continue
                if scripted.path and not re.fullmatch(scripted.path, request.path):
                    continue
                scripted.times -= 1
                if scripted.times <= 0:
                    self._scripts.remove(scripted)
                return scripted.status, scripted.body, dict(scripted.headers)
        try:
            return self.handle(request)
        except Exception as exc:  # noqa: BLE001 - a stand-in bug must show up, not hang the client
            return 599, {"standin_error": repr(exc)}, {}

    def handle(self, request: Recorded) -> Answer:
        return 404, {"detail": "not found"}, {}

    def clear(self) -> None:
        with self._lock:
            self.requests.clear()


# --- amoCRM ----------------------------------------------------------------------------------------


class AmoStandin(StandinServer):
    """amoCRM API v4: leads, contacts, notes, PATCH, OAuth refresh with rotating refresh tokens."""

    def __init__(self) -> None:
        super().__init__()
        self.client_id = "amo-client"
        self.client_secret = "amo-secret"
        self.redirect_uri = "https://crm.example.com/amocrm/oauth"
        self.access_token = "amo-access-1"
        self.refresh_token = "amo-refresh-1"
        self._token_counter = itertools.count(2)
        self._note_ids = itertools.count(9001)
        self.leads: dict[int, dict] = {}
        self.contacts: dict[int, dict] = {}
        self.notes: list[dict] = []

    def handle(self, request: Recorded) -> Answer:
        path = request.path
        if path == "/oauth2/access_token" and request.method == "POST":
            return self._token(request)
        if request.headers.get("authorization") != f"Bearer {self.access_token}":
            return (
                401,
                {
                    "title": "Unauthorized",
                    "type": "https://httpstatus.es/401",
                    "status": 401,
                    "detail": "Unauthorized",
                },
                {},
            )
        if match := re.fullmatch(r"/api/v4/leads/(\d+)", path):
            lead_id = int(match.group(1))
            if request.method == "GET":
                return self._get_lead(lead_id, request)
            if request.method == "PATCH":
                return self._patch_lead(lead_id, request)
        if (match := re.fullmatch(r"/api/v4/leads/(\d+)/notes", path)) and request.method == "POST":
            return self._add_notes(int(match.group(1)), request)
        if (match := re.fullmatch(r"/api/v4/contacts/(\d+)", path)) and request.method == "GET":
            contact = self.contacts.get(int(match.group(1)))
            return (200, contact, {}) if contact else (204, None, {})
        return 404, {"title": "Not Found", "status": 404, "detail": "Not Found"}, {}

    def _token(self, request: Recorded) -> Answer:
        data = request.json()
        if (
            data.get("grant_type") != "refresh_token"
            or data.get("client_id") != self.client_id
            or data.get("client_secret") != self.client_secret
            or data.get("refresh_token") != self.refresh_token
        ):
            return (
                400,
                {
                    "hint": "Token has been revoked",
                    "title": "Некорректный запрос",
                    "type": "https://developers.amocrm.ru/v3/errors/OAuthProblemJson",
                    "status": 400,
                    "detail": "В запросе отсутствует ряд параметров или параметры невалидны",
                },
                {},
            )
        n = next(self._token_counter)
        self.access_token = f"amo-access-{n}"
        self.refresh_token = f"amo-refresh-{n}"
        return (
            200,
            {
                "token_type": "Bearer",
                "expires_in": 86400,
                "access_token": self.access_token,
                "refresh_token": self.refresh_token,
            },
            {},
        )

    def _get_lead(self, lead_id: int, request: Recorded) -> Answer:
        lead = self.leads.get(lead_id)
        if lead is None:
            return 204, None, {}  # amoCRM answers 204 No Content for an unknown id
        lead = json.loads(json.dumps(lead))
        if "contacts" not in (request.query.get("with") or [""])[0].split(","):
            lead.get("_embedded", {}).pop("contacts", None)
        return 200, lead, {}

    def _patch_lead(self, lead_id: int, request: Recorded) -> Answer:
        if lead_id not in self.leads:
            return (
                400,
                {
                    "validation-errors": [
                        {
                            "request_id": "0",
                            "errors": [{"code": "NotFound", "path": "id", "detail": "Lead not found"}],
                        }
                    ],
                    "title": "Bad Request",
                    "type": "https://httpstatus.es/400",
                    "status": 400,
                    "detail": "Request validation failed",
                },
                {},
            )
        self.leads[lead_id].update(request.json())
        return (
            200,
            {
                "id": lead_id,
                "updated_at": int(time.time()),
                "_links": {"self": {"href": f"{self.url}/api/v4/leads/{lead_id}"}},
            },
            {},
        )

    def _add_notes(self, lead_id: int, request: Recorded) -> Answer:
        created = []
        for item in request.json():
            note_id = next(self._note_ids)
            self.notes.append({"id": note_id, "entity_id": lead_id, **item})
            created.append({"id": note_id, "entity_id": lead_id, "request_id": "0"})
        return (
            200,
            {
                "_links": {"self": {"href": f"{self.url}/api/v4/leads/{lead_id}/notes"}},
                "_embedded": {"notes": created},
            },
            {},
        )


# --- Google ----------------------------------------------------------------------------------------


def _google_error(code: int, message: str, reason: str) -> dict:
    return {
        "error": {
            "code": code,
            "message": message,
            "errors": [{"domain": "global", "reason": reason, "message": message}],
        }
    }


def _rfc(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class GoogleStandin(StandinServer):
    """OAuth token endpoint (/token) and Calendar v3 (/calendar/v3/freeBusy, events insert/get)."""

    def __init__(self) -> None:
        super().__init__()
        self.client_id = "g-client.apps.googleusercontent.com"
        self.client_secret = "g-secret"
        self.refresh_tokens = {"g-refresh-ok"}
        self.codes: dict[str, str] = {"good-code": "g-refresh-new"}  # auth code → refresh token
        self.access_tokens: set[str] = set()
        self._counter = itertools.count(1)
        self.busy: list[tuple[datetime, datetime]] = []  # extra busy time besides the events
        self.events: dict[str, dict] = {}
        self.missing_calendars: set[str] = set()

    def handle(self, request: Recorded) -> Answer:
        if request.path == "/token" and request.method == "POST":
            return self._token(request)
        auth = request.headers.get("authorization", "")
        if not auth.startswith("Bearer ") or auth[7:] not in self.access_tokens:
            return 401, _google_error(401, "Request had invalid authentication credentials.", "authError"), {}
        if request.path == "/calendar/v3/freeBusy" and request.method == "POST":
            return self._freebusy(request)
        if (
            match := re.fullmatch(r"/calendar/v3/calendars/([^/]+)/events", request.path)
        ) and request.method == "POST":
            return self._insert(match.group(1), request)
        if (
            match := re.fullmatch(r"/calendar/v3/calendars/([^/]+)/events/([^/]+)", request.path)
        ) and request.method == "GET":
            event = self.events.get(match.group(2))
            return (200, event, {}) if event else (404, _google_error(404, "Not Found", "notFound"), {})
        return 404, _google_error(404, "Not Found", "notFound"), {}

    def _token(self, request: Recorded) -> Answer:
        form = request.form()
        if form.get("client_id") != self.client_id or form.get("client_secret") != self.client_secret:
            return 401, {"error": "invalid_client", "error_description": "Unauthorized"}, {}
        access = f"g-access-{next(self._counter)}"
        if form.get("grant_type") == "refresh_token":
            if form.get("refresh_token") not in self.refresh_tokens:
                return (
                    400,
                    {"error": "invalid_grant", "error_description": "Token has been expired or revoked."},
                    {},
                )
            self.access_tokens.add(access)
            return (
                200,
                {"access_token": access, "expires_in": 3599, "scope": GOOGLE_SCOPE, "token_type": "Bearer"},
                {},
            )
        if form.get("grant_type") == "authorization_code":
            refresh = self.codes.pop(form.get("code", ""), None)
            if refresh is None:
                return 400, {"error": "invalid_grant", "error_description": "Malformed auth code."}, {}
            self.refresh_tokens.add(refresh)
            self.access_tokens.add(access)
            return (
                200,
                {
                    "access_token": access,
                    "expires_in": 3599,
                    "refresh_token": refresh,
                    "scope": GOOGLE_SCOPE,
                    "token_type": "Bearer",
                },
                {},
            )
        return 400, {"error": "unsupported_grant_type"}, {}

    def busy_intervals(self) -> list[tuple[datetime, datetime]]:
        intervals = list(self.busy)
        for event in self.events.values():
            start = datetime.fromisoformat(event["start"]["dateTime"])
            end = datetime.fromisoformat(event["end"]["dateTime"])
            intervals.append((start, end))
        return intervals

    def _freebusy(self, request: Recorded) -> Answer:
        body = request.json()
        time_min = datetime.fromisoformat(body["timeMin"])
        time_max = datetime.fromisoformat(body["timeMax"])
        calendars: dict[str, dict] = {}
        for item in body.get("items", []):
            cid = item["id"]
            if cid in self.missing_calendars:
                calendars[cid] = {"errors": [{"domain": "global", "reason": "notFound"}], "busy": []}
                continue
            busy = [
                {"start": _rfc(max(start, time_min)), "end": _rfc(min(end, time_max))}
                for start, end in sorted(self.busy_intervals())
                if start < time_max and time_min < end
            ]
            calendars[cid] = {"busy": busy}
        return (
            200,
            {
                "kind": "calendar#freeBusy",
                "timeMin": _rfc(time_min),
                "timeMax": _rfc(time_max),
                "calendars": calendars,
            },
            {},
        )

    def _insert(self, calendar_id: str, request: Recorded) -> Answer:
        body = request.json()
        event_id = body.get("id") or f"ev{next(self._counter)}"
        if event_id in self.events:
            return 409, _google_error(409, "The requested identifier already exists.", "duplicate"), {}
        event = {
            **body,
            "kind": "calendar#event",
            "id": event_id,
            "status": "confirmed",
            "htmlLink": f"https://www.google.com/calendar/event?eid={event_id}",
            "organizer": {"email": calendar_id, "self": True},
        }
        create = (body.get("conferenceData") or {}).get("createRequest")
        if create and request.query.get("conferenceDataVersion") == ["1"]:
            meet = f"https://meet.google.com/abc-{event_id[:4]}-xyz"
            event["hangoutLink"] = meet
            event["conferenceData"] = {
                "createRequest": {**create, "status": {"statusCode": "success"}},
                "entryPoints": [{"entryPointType": "video", "uri": meet, "label": meet[8:]}],
                "conferenceSolution": {"key": {"type": "hangoutsMeet"}, "name": "Google Meet"},
                "conferenceId": f"abc-{event_id[:4]}-xyz",
            }
        self.events[event_id] = event
        return 200, event, {}
