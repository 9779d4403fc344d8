"""amoCRM (API v4): lead intake from webhooks and write-back.

Pure Python on purpose (no Django): the webhook view parses with `parse_webhook`, Celery tasks read the
lead and write back through `AmoClient`, and the tests drive both against a local HTTP stand-in.

amoCRM webhooks carry no signature, so the caller trusts the secret URL key and reads the lead back
through the API instead of trusting the form body beyond the ids.
"""

from __future__ import annotations

import random
import re
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, NamedTuple, Protocol, Self
from urllib.parse import parse_qs, urlsplit

import httpx

PROVIDER = "amocrm"
# amoCRM allows 7 requests per second per account; going over it earns 429s and, if repeated, a ban.
AMO_RATE = 7
AMO_PER = 1.0
DEFAULT_TIMEOUT = httpx.Timeout(10.0)
MAX_BACKOFF = 30.0
TEXT_FIELD_TYPES = ("text", "textarea")


# --- errors ----------------------------------------------------------------------------------------


class AmoWebhookError(ValueError):
    """A webhook body we cannot use; the view answers 400 with `detail`."""

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


class AmoApiError(Exception):
    """An API call that did not succeed.

    `retryable` is True for 429, 5xx and transport failures that outlived our own retries (the task may
    try again later) and False for refusals (other 4xx) that a retry would only repeat.
    """

    def __init__(self, detail: str, *, retryable: bool, status_code: int | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        self.retryable = retryable
        self.status_code = status_code


class AmoAuthError(AmoApiError):
    """The credential is broken (401 with no way to refresh, or the refresh itself refused)."""

    def __init__(self, detail: str, *, status_code: int | None = 401) -> None:
        super().__init__(detail, retryable=False, status_code=status_code)


# --- webhook ---------------------------------------------------------------------------------------


def webhook_configured(config: object) -> bool:
    """Whether the tenant's `amocrm` section, as stored, is enough for its webhook to be accepted: the account's
    `base_url` (a hook without `account[id]` is matched by its subdomain)."""
    return isinstance(config, dict) and bool(config.get("base_url"))


class AmoLeadEvent(NamedTuple):
    kind: str  # "add" | "status"
    lead_id: int
    status_id: int | None


@dataclass
class AmoWebhook:
    """One webhook body. Only `leads[add]` and `leads[status]` become events; everything else amoCRM may send
    to a hook subscribed to more (contacts, leads[update]/[delete], notes, unsorted, talks, messages…) is
    named in `ignored`, and lead events whose ids are unusable are described in `skipped`: both are recorded
    and answered 200, because amoCRM switches off a webhook that keeps failing."""

    account_id: int | None  # None: the hook carries no account[id] (then its subdomain identifies it)
    subdomain: str
    events: list[AmoLeadEvent] = field(default_factory=list)
    ignored: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    form: dict[str, list[str]] = field(default_factory=dict, compare=False, repr=False)


ACTED_ON = ("add", "status")
MAX_AMO_ID = 2**63 - 1  # our columns are bigint
MAX_FIELDS = 10_000  # a real hook has tens; a 1 MiB body of "a=1&" would have 250,000
MAX_EVENTS = 200
MAX_KEY = 200
# entity[action][index]…: leads[add][0][id], leads[note][0][note][text], unsorted[add][0][data][contacts][0][id]
_ENTITY_KEY = re.compile(r"^(\w{1,40})\[(\w{1,40})\]\[([0-9]{1,9})\](.*)$")
_ATTR = re.compile(r"^\[(\w{1,40})\]$")


def amo_id(value: Any) -> int | None:
    """An amoCRM id as our bigint columns can hold it (1 … 2^63-1), or None (missing, not a number, too big)."""
    text = str(value).strip() if isinstance(value, (str, int)) and not isinstance(value, bool) else ""
    if not (0 < len(text) <= 19) or not text.isascii() or not text.isdigit():
        return None
    number = int(text)
    return number if 0 < number <= MAX_AMO_ID else None


def _quoted(value: Any, limit: int = 40) -> str:
    text = repr(value)
    return text[:limit] + ("…" if len(text) > limit else "")


def _clean(text: str) -> str:
    return text.replace("\x00", "")  # PostgreSQL's jsonb refuses NUL; the raw event is stored as JSON


def _form_lists(form: Any) -> dict[str, list[str]]:
    """Accept the raw body, parse_qs output, a Django QueryDict or a plain dict of strings."""
    if isinstance(form, bytes):
        form = form.decode("utf-8", errors="replace")
    if isinstance(form, str):
        try:
            parsed = parse_qs(form, keep_blank_values=True, max_num_fields=MAX_FIELDS)
        except ValueError:
            raise AmoWebhookError(f"more than {MAX_FIELDS} form fields") from None
    elif hasattr(form, "lists"):  # QueryDict: plain item access would give only the last value
        parsed = {str(k): [str(v) for v in vs] for k, vs in form.lists()}
    elif isinstance(form, Mapping):
        parsed = {}
        for key, value in form.items():
            values = value if isinstance(value, (list, tuple)) else [value]
            parsed[str(key)] = [str(v) for v in values]
    else:
        raise AmoWebhookError("body is not form-encoded")
    return {_clean(key): [_clean(v) for v in values] for key, values in parsed.items()}


def parse_webhook(form: Mapping[str, list[str]] | str | bytes) -> AmoWebhook:
    """Parse amoCRM's form-encoded webhook into its account, the lead events we act on, and what we do not.

    Raises AmoWebhookError (400) only for a body that is not an amoCRM webhook at all: no account[id] and no
    account[subdomain]. A real hook always names its account, whatever its entities."""
    data = _form_lists(form)

    def first(key: str) -> str | None:
        values = data.get(key) or []
        return values[0] if values else None

    account_raw = (first("account[id]") or "").strip()
    subdomain = (first("account[subdomain]") or "").strip()[:100]
    if not account_raw and not subdomain:
        raise AmoWebhookError("not an amoCRM webhook: no account[id] or account[subdomain]")
    hook = AmoWebhook(account_id=None, subdomain=subdomain, form=data)
    if account_raw:
        hook.account_id = amo_id(account_raw)
        if hook.account_id is None:
            # Nothing in it can be matched to the tenant's account: recorded, nothing acted on.
            hook.skipped.append(f"account[id] is not an amoCRM id: {_quoted(account_raw)}")
            return hook

    # Group the flat keys by (kind, index) keeping amoCRM's order.
    grouped: dict[tuple[str, int], dict[str, str]] = {}
    for key, values in data.items():
        match = _ENTITY_KEY.match(key) if len(key) <= MAX_KEY else None
        if match is None:
            continue
        entity, action, index, rest = match.groups()
        if entity == "leads" and action in ACTED_ON:
            attrs = grouped.setdefault((action, int(index)), {})
            attr = _ATTR.match(rest)
            if attr and values:
                attrs[attr.group(1)] = values[0]
        elif f"{entity}[{action}]" not in hook.ignored:
            hook.ignored.append(f"{entity}[{action}]")

    for (kind, index), attrs in sorted(grouped.items(), key=lambda item: (item[0][0] != "add", item[0][1])):
        where = f"leads[{kind}][{index}]"
        lead_id = amo_id(attrs.get("id"))
        if lead_id is None:
            hook.skipped.append(f"{where}[id] is not an amoCRM id: {_quoted(attrs.get('id'))}")
            continue
        status_raw = (attrs.get("status_id") or "").strip()
        status_id = amo_id(status_raw) if status_raw and status_raw != "0" else None
        if status_raw and status_raw != "0" and status_id is None:
            hook.skipped.append(f"{where}[status_id] is not an amoCRM id: {_quoted(status_raw)}")
            continue
        if len(hook.events) >= MAX_EVENTS:
            hook.skipped.append(f"{where}: more than {MAX_EVENTS} lead events in one webhook")
            continue
        hook.events.append(AmoLeadEvent(kind, lead_id, status_id))
    return hook


def account_subdomain(base_url: str) -> str:
    """The account's subdomain in its API base URL: `buildco` of https://buildco.amocrm.ru."""
    try:
        host = urlsplit(base_url or "").hostname or ""
    except ValueError:
        return ""
    return host.split(".", 1)[0] if "." in host else host


def account_mismatch(*, account_id: int | None, subdomain: str, config: Mapping[str, Any]) -> str:
    """"" when a hook comes from the tenant's amoCRM account (`config`: its `amocrm` section), else why not.
    The account id decides when both the hook and the tenant have one; otherwise the hook's subdomain must be
    the one of the configured base_url's host."""
    configured = amo_id(config.get("account_id"))
    if account_id is not None and configured is not None:
        if account_id == configured:
            return ""
    else:
        own = account_subdomain(str(config.get("base_url") or ""))
        if subdomain and own and subdomain.casefold() == own.casefold():
            return ""
    claimed = account_id if account_id is not None else (subdomain or "?")
    expected = configured or account_subdomain(str(config.get("base_url") or "")) or "not configured"
    return f"account {claimed} is not this tenant's amoCRM account ({expected})"


# --- rate limiting ---------------------------------------------------------------------------------


class RateLimiter(Protocol):
    def acquire(self, key: str) -> None:
        """Block until one more request for `key` fits in the window."""


class LocalRateLimiter:
    """Sliding-window limiter for one process (threads share it)."""

    def __init__(self, rate: int = AMO_RATE, per: float = AMO_PER) -> None:
        self.rate = rate
        self.per = per
        self._lock = threading.Lock()
        self._stamps: dict[str, deque[float]] = {}

    def acquire(self, key: str) -> None:
        while True:
            with self._lock:
                now = time.monotonic()
                stamps = self._stamps.setdefault(key, deque())
                while stamps and stamps[0] <= now - self.per:
                    stamps.popleft()
                if len(stamps) < self.rate:
                    stamps.append(now)
                    return
                wait = stamps[0] + self.per - now
            time.sleep(max(wait, 0.001))  # sleep outside the lock so other keys are not held up


# Sliding window in a sorted set. Redis's own clock (TIME) is used so workers on hosts whose clocks
# disagree still share one window. Returns 0 when a slot was taken, else milliseconds to wait.
_REDIS_SCRIPT = """
local key = KEYS[1]
local limit = tonumber(ARGV[1])
local window_us = tonumber(ARGV[2])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
redis.call('ZREMRANGEBYSCORE', key, '-inf', now - window_us)
if redis.call('ZCARD', key) < limit then
  redis.call('ZADD', key, now, ARGV[3] .. ':' .. now)
  redis.call('PEXPIRE', key, math.ceil(window_us / 1000) + 1000)
  return 0
end
local oldest = redis.call('ZRANGE', key, 0, 0, 'WITHSCORES')
local wait_ms = math.ceil((tonumber(oldest[2]) + window_us - now) / 1000)
if wait_ms < 1 then wait_ms = 1 end
return wait_ms
"""


class RedisRateLimiter:
    """Sliding-window limiter shared by every process that talks to the same Redis."""

    def __init__(
        self, redis_client: Any, rate: int = AMO_RATE, per: float = AMO_PER, *, prefix: str = "amocrm:rl:"
    ) -> None:
        self.rate = rate
        self.per = per
        self.prefix = prefix
        self._script = redis_client.register_script(_REDIS_SCRIPT)

    def acquire(self, key: str) -> None:
        redis_key = f"{self.prefix}{key}"
        window_us = int(self.per * 1_000_000)
        while True:
            wait_ms = int(self._script(keys=[redis_key], args=[self.rate, window_us, uuid.uuid4().hex]))
            if wait_ms <= 0:
                return
            time.sleep(wait_ms / 1000.0)


# --- API client ------------------------------------------------------------------------------------


class AmoClient:
    """amoCRM API v4 client for one account.

    Tokens: with a refresh token and client credentials a 401 triggers one refresh; amoCRM rotates the
    refresh token on every refresh, so `on_tokens(access, refresh)` MUST persist both, or the next
    refresh fails. With a long-lived token only, a 401 is an AmoAuthError at once.
    """

    def __init__(
        self,
        base_url: str,
        *,
        access_token: str,
        refresh_token: str | None = None,
        client_id: str | None = None,
        client_secret: str | None = None,
        redirect_uri: str | None = None,
        on_tokens: Callable[[str, str], None] | None = None,
        limiter: RateLimiter | None = None,
        client: httpx.Client | None = None,
        max_retries: int = 4,
        backoff: float = 0.5,
        timeout: float | httpx.Timeout = DEFAULT_TIMEOUT,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.access_token = access_token
        self.refresh_token = refresh_token
        self.client_id = client_id
        self.client_secret = client_secret
        self.redirect_uri = redirect_uri
        self.on_tokens = on_tokens
        self.limiter = limiter
        self.max_retries = max_retries
        self.backoff = backoff
        self._own_client = client is None
        self._client = client if client is not None else httpx.Client(timeout=timeout)
        self._token_lock = threading.Lock()

    # lifecycle

    def close(self) -> None:
        if self._own_client:
            self._client.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # public calls

    def get_lead(self, lead_id: int) -> dict | None:
        """The lead with its contacts embedded, or None when amoCRM does not have it (204/404)."""
        return self._request(
            "GET", f"/api/v4/leads/{int(lead_id)}", params={"with": "contacts"}, missing_ok=True
        )

    def get_contact(self, contact_id: int) -> dict | None:
        return self._request("GET", f"/api/v4/contacts/{int(contact_id)}", missing_ok=True)

    def update_lead(
        self,
        lead_id: int,
        *,
        status_id: int | None = None,
        pipeline_id: int | None = None,
        responsible_user_id: int | None = None,
    ) -> dict | None:
        body = {
            key: int(value)
            for key, value in (
                ("status_id", status_id),
                ("pipeline_id", pipeline_id),
                ("responsible_user_id", responsible_user_id),
            )
            if value is not None
        }
        if not body:
            raise ValueError("update_lead needs at least one of status_id, pipeline_id, responsible_user_id")
        return self._request("PATCH", f"/api/v4/leads/{int(lead_id)}", json=body)

    def add_note(self, lead_id: int, text: str) -> dict | None:
        body = [{"note_type": "common", "params": {"text": text}}]
        return self._request("POST", f"/api/v4/leads/{int(lead_id)}/notes", json=body)

    def refresh_tokens(self) -> tuple[str, str]:
        """Exchange the refresh token for a new pair, hand it to on_tokens and use it from now on."""
        if not (self.refresh_token and self.client_id and self.client_secret):
            raise AmoAuthError("amocrm: no refresh token or client credentials to refresh with")
        body = {
            "client_id": self.client_id,
            "client_secret": self.client_secret,
            "grant_type": "refresh_token",
            "refresh_token": self.refresh_token,
            "redirect_uri": self.redirect_uri or "",
        }
        data = self._request("POST", "/oauth2/access_token", json=body, auth=False)
        if not isinstance(data, dict) or not data.get("access_token") or not data.get("refresh_token"):
            raise AmoAuthError(
                "amocrm: token refresh answered without access_token/refresh_token", status_code=None
            )
        self.access_token = str(data["access_token"])
        self.refresh_token = str(data["refresh_token"])
        if self.on_tokens is not None:
            self.on_tokens(self.access_token, self.refresh_token)
        return self.access_token, self.refresh_token

    # internals

    def _can_refresh(self) -> bool:
        return bool(self.refresh_token and self.client_id and self.client_secret)

    def _sleep_before_retry(self, attempt: int, response: httpx.Response | None) -> None:
        delay = min(self.backoff * (2**attempt), MAX_BACKOFF)
        delay += random.uniform(0, self.backoff)  # jitter: workers hit by the same 429 spread out
        if response is not None:
            try:
                delay = max(delay, min(float(response.headers["retry-after"]), MAX_BACKOFF))
            except (KeyError, ValueError):
                pass
        time.sleep(delay)

    def _request(
        self,
        method: str,
        path: str,
        *,
        params: dict | None = None,
        json: Any = None,
        missing_ok: bool = False,
        auth: bool = True,
    ) -> Any:
        url = f"{self.base_url}{path}"
        attempt = 0
        refreshed = False
        while True:
            if self.limiter is not None:
                self.limiter.acquire(self.base_url)
            headers = {"Accept": "application/json"}
            used_token = self.access_token
            if auth:
                headers["Authorization"] = f"Bearer {used_token}"
            try:
                response = self._client.request(method, url, params=params, json=json, headers=headers)
            except (httpx.UnsupportedProtocol, httpx.InvalidURL) as exc:
                raise AmoApiError(f"amocrm: bad base_url ({exc})", retryable=False) from exc
            except httpx.TransportError as exc:
                if attempt < self.max_retries:
                    self._sleep_before_retry(attempt, None)
                    attempt += 1
                    continue
                raise AmoApiError(
                    f"amocrm: {method} {path}: {type(exc).__name__}: {exc}", retryable=True
                ) from exc

            status = response.status_code
            if status == 401 and auth:
                if not refreshed and self._can_refresh():
                    with self._token_lock:
                        if self.access_token == used_token:  # another thread may have refreshed already
                            self.refresh_tokens()
                    refreshed = True
                    continue
                raise AmoAuthError(f"amocrm: {method} {path}: 401 {_short(response)}")
            if status == 429 or status >= 500:
                if attempt < self.max_retries:
                    self._sleep_before_retry(attempt, response)
                    attempt += 1
                    continue
                raise AmoApiError(
                    f"amocrm: {method} {path}: {status} {_short(response)}",
                    retryable=True,
                    status_code=status,
                )
            if status == 204 or (status == 404 and missing_ok):
                return None
            if status >= 400:
                if not auth and status in (400, 401, 403):
                    raise AmoAuthError(
                        f"amocrm: token refresh refused: {status} {_short(response)}", status_code=status
                    )
                raise AmoApiError(
                    f"amocrm: {method} {path}: {status} {_short(response)}",
                    retryable=False,
                    status_code=status,
                )
            if not response.content:
                return None
            try:
                return response.json()
            except ValueError as exc:
                raise AmoApiError(
                    f"amocrm: {method} {path}: answer is not JSON", retryable=False, status_code=status
                ) from exc


def _short(response: httpx.Response, limit: int = 500) -> str:
    text = response.text.strip()
    return text[:limit] + ("…" if len(text) > limit else "")


# --- helpers for the intake ------------------------------------------------------------------------


def normalise_phone(value: Any) -> str | None:
    """Digits only; KZ/RU trunk prefix 8XXXXXXXXXX → 7XXXXXXXXXX; 10 local digits get the 7 prefix."""
    number = re.sub(r"\D", "", str(value or ""))
    if len(number) == 11 and number.startswith("8"):
        number = "7" + number[1:]
    elif len(number) == 10 and number[0] in "79":  # 701… (KZ mobile) or 9… (RU mobile) typed without +7
        number = "7" + number
    return number or None


def _custom_fields(entity: dict) -> list[dict]:
    fields = entity.get("custom_fields_values") if isinstance(entity, dict) else None
    return [item for item in fields or [] if isinstance(item, dict)]


def _field_values(item: dict) -> list[str]:
    values = []
    for value in item.get("values") or []:
        raw = value.get("value") if isinstance(value, dict) else value
        if raw is not None and str(raw).strip():
            values.append(str(raw).strip())
    return values


def contact_phone(contact: dict) -> str | None:
    """The contact's first phone (custom field with field_code PHONE) as digits, or None."""
    for item in _custom_fields(contact):
        if item.get("field_code") == "PHONE":
            for value in _field_values(item):
                phone = normalise_phone(value)
                if phone:
                    return phone
    return None


def lead_contact_ids(lead: dict) -> list[int]:
    """Contact ids from `_embedded.contacts`, the main contact first."""
    embedded = lead.get("_embedded") if isinstance(lead, dict) else None
    contacts = (embedded or {}).get("contacts") or []
    ordered = sorted(
        (c for c in contacts if isinstance(c, dict) and str(c.get("id", "")).isdigit()),
        key=lambda c: not c.get("is_main"),  # stable sort keeps amoCRM's order otherwise
    )
    ids: list[int] = []
    for contact in ordered:
        if int(contact["id"]) not in ids:
            ids.append(int(contact["id"]))
    return ids


def lead_info_text(lead: dict, info_field: str) -> str:
    """The lead's free text for the single `source_info` field.

    The lead name first, then the custom field named `info_field`; when the lead has no such field,
    every text field as "Name: value" lines so nothing the client wrote is lost.
    """
    lines: list[str] = []
    name = str(lead.get("name") or "").strip()
    if name:
        lines.append(name)
    wanted = (info_field or "").strip().casefold()
    fields = _custom_fields(lead)
    chosen = [f for f in fields if wanted and str(f.get("field_name") or "").strip().casefold() == wanted]
    if chosen:
        for item in chosen:
            lines.extend(_field_values(item))
    else:
        for item in fields:
            if item.get("field_type", "text") in TEXT_FIELD_TYPES:
                values = _field_values(item)
                if values:
                    lines.append(f"{item.get('field_name') or item.get('field_id')}: {', '.join(values)}")
    return "\n".join(lines)
