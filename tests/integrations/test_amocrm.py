"""amoCRM: webhook parsing, the exact API v4 requests, token refresh, retries and the rate limit."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator

import httpx
import pytest

from integrations.amocrm import (
    AmoApiError,
    AmoAuthError,
    AmoClient,
    AmoLeadEvent,
    AmoWebhook,
    AmoWebhookError,
    LocalRateLimiter,
    RedisRateLimiter,
    account_mismatch,
    contact_phone,
    lead_contact_ids,
    lead_info_text,
    parse_webhook,
)
from tests.integrations.gstandin import AmoStandin

LEAD = {
    "id": 4101,
    "name": "Заявка с сайта",
    "status_id": 142,
    "pipeline_id": 77,
    "custom_fields_values": [
        {
            "field_id": 1,
            "field_name": "Информация",
            "field_code": None,
            "field_type": "textarea",
            "values": [{"value": "Дом 10x12, Алматы, нужен проект"}],
        },
        {
            "field_id": 2,
            "field_name": "Город",
            "field_code": None,
            "field_type": "text",
            "values": [{"value": "Алматы"}],
        },
        {
            "field_id": 3,
            "field_name": "Бюджет",
            "field_code": None,
            "field_type": "numeric",
            "values": [{"value": "5000000"}],
        },
    ],
    "_embedded": {"contacts": [{"id": 501, "is_main": False}, {"id": 502, "is_main": True}]},
}
CONTACT = {
    "id": 502,
    "name": "Айгуль",
    "custom_fields_values": [
        {
            "field_id": 10,
            "field_name": "Телефон",
            "field_code": "PHONE",
            "field_type": "multitext",
            "values": [{"value": "8 (701) 111-22-33", "enum_code": "WORK"}, {"value": "+77020000000"}],
        },
    ],
}


@pytest.fixture
def amo() -> Iterator[AmoStandin]:
    server = AmoStandin().start()
    server.leads[4101] = dict(LEAD)
    server.contacts[502] = dict(CONTACT)
    yield server
    server.stop()


def make_client(server: AmoStandin, **kwargs) -> AmoClient:
    kwargs.setdefault("access_token", server.access_token)
    kwargs.setdefault("backoff", 0.001)
    return AmoClient(server.url, **kwargs)


# --- webhook ---------------------------------------------------------------------------------------


def test_parse_webhook_add_from_raw_body():
    body = (
        "leads%5Badd%5D%5B0%5D%5Bid%5D=4101&leads%5Badd%5D%5B0%5D%5Bstatus_id%5D=142"
        "&leads%5Badd%5D%5B0%5D%5Bpipeline_id%5D=77"
        "&account%5Bsubdomain%5D=buildco&account%5Bid%5D=30000001"
        "&account%5B_links%5D%5Bself%5D=https%3A%2F%2Fbuildco.amocrm.ru"
    )
    hook = parse_webhook(body)
    assert hook == AmoWebhook(
        account_id=30000001, subdomain="buildco", events=[AmoLeadEvent("add", 4101, 142)]
    )
    assert hook.events[0] == ("add", 4101, 142)


def test_parse_webhook_status_and_several_leads_from_lists():
    form = {
        "leads[status][0][id]": ["4101"],
        "leads[status][0][status_id]": ["143"],
        "leads[status][0][old_status_id]": ["142"],
        "leads[status][1][id]": ["4102"],
        "leads[status][1][status_id]": ["150"],
        "leads[add][0][id]": ["4103"],
        "account[subdomain]": ["buildco"],
        "account[id]": ["30000001"],
    }
    hook = parse_webhook(form)
    assert hook.account_id == 30000001
    assert hook.events == [("add", 4103, None), ("status", 4101, 143), ("status", 4102, 150)]


def test_parse_webhook_update_only_is_valid_but_has_no_events():
    hook = parse_webhook("leads[update][0][id]=7&account[id]=1&account[subdomain]=x")
    assert hook.events == []


@pytest.mark.parametrize(
    "body, fragment",
    [
        ("", "account"),
        ("leads[add][0][id]=5", "account"),
        ('{"leads": 1}', "account"),
        ("x=1&" * 10_001, "form fields"),
    ],
)
def test_parse_webhook_malformed(body, fragment):
    """Only a body that is not an amoCRM webhook at all (no account named) is refused."""
    with pytest.raises(AmoWebhookError) as err:
        parse_webhook(body)
    assert fragment in err.value.detail


@pytest.mark.parametrize(
    "body, events, skipped",
    [
        ("account[id]=1&account[subdomain]=x", [], []),
        ("leads[add][0][status_id]=5&account[id]=1", [], ["leads[add][0][id] is not an amoCRM id: None"]),
        ("leads[add][0][id]=abc&account[id]=1", [], ["leads[add][0][id] is not an amoCRM id: 'abc'"]),
        ("leads[add][0][id]=5&leads[add][0][status_id]=x&account[id]=1", [],
         ["leads[add][0][status_id] is not an amoCRM id: 'x'"]),
        ("leads[add][0][id]=99999999999999999999&account[id]=1", [],
         ["leads[add][0][id] is not an amoCRM id: '99999999999999999999'"]),
        ("leads[add][0][id]=9223372036854775808&leads[add][1][id]=9223372036854775807&account[id]=1",
         [("add", 9223372036854775807, None)], ["leads[add][0][id] is not an amoCRM id: '9223372036854775808'"]),
        ("leads[add][0][id]=-5&leads[status][0][id]=1e5&account[id]=1", [],
         ["leads[add][0][id] is not an amoCRM id: '-5'", "leads[status][0][id] is not an amoCRM id: '1e5'"]),
        ("leads[add][0][id]=%D9%A3&account[id]=1", [], ["leads[add][0][id] is not an amoCRM id: '٣'"]),
        ("leads[add][0][id]=5&account[id]=12a", [], ["account[id] is not an amoCRM id: '12a'"]),
        ("leads[add][0][id]=5&account[subdomain]=x", [("add", 5, None)], []),
    ],
)
def test_parse_webhook_skips_unusable_ids_instead_of_refusing(body, events, skipped):
    """amoCRM switches off a webhook that keeps failing: ids we cannot use are skipped (and recorded by the
    intake), never a 400."""
    hook = parse_webhook(body)
    assert hook.events == events
    assert hook.skipped == skipped


def test_parse_webhook_names_what_it_does_not_act_on():
    hook = parse_webhook(
        "contacts[add][0][id]=93589657&contacts[add][0][name]=Oleg&leads[update][0][id]=27754599"
        "&leads[note][0][note][text]=hi&leads[note][0][note][element_id]=27754599"
        "&unsorted[add][0][uid]=00b6&unsorted[add][0][data][contacts][0][id]=93589657"
        "&leads[delete][0][id]=1&account[id]=31257294&account[subdomain]=appgpt"
    )
    assert hook.events == [] and hook.skipped == []
    assert hook.ignored == ["contacts[add]", "leads[update]", "leads[note]", "unsorted[add]", "leads[delete]"]


def test_parse_webhook_drops_nul_from_the_stored_form():
    hook = parse_webhook("leads[add][0][id]=4101&leads[add][0][name]=a%00b&account[id]=1")
    assert hook.events == [("add", 4101, None)]
    assert hook.form["leads[add][0][name]"] == ["ab"]


@pytest.mark.parametrize("base_url, hook_id, subdomain, configured, matches", [
    ("https://buildco.amocrm.ru", 30000001, "buildco", 30000001, True),
    ("https://buildco.amocrm.ru", 30000002, "buildco", 30000001, False),  # the id decides when both have one
    ("https://buildco.amocrm.ru", None, "buildco", 30000001, True),
    ("https://buildco.amocrm.ru", None, "BuildCo", None, True),
    ("https://buildco.amocrm.ru", None, "otherco", 30000001, False),
    ("https://buildco.kommo.com", 30000009, "buildco", None, True),
    ("", None, "buildco", 30000001, False),
    ("https://buildco.amocrm.ru", None, "", 30000001, False),
])
def test_account_match_by_id_or_subdomain(base_url, hook_id, subdomain, configured, matches):
    mismatch = account_mismatch(account_id=hook_id, subdomain=subdomain,
                                config={"base_url": base_url, "account_id": configured})
    assert (mismatch == "") is matches, mismatch


# --- exact requests --------------------------------------------------------------------------------


def test_get_lead_and_contact_exact_requests(amo):
    with make_client(amo) as client:
        lead = client.get_lead(4101)
        assert lead["id"] == 4101
        ids = lead_contact_ids(lead)
        assert ids == [502, 501]
        contact = client.get_contact(ids[0])
    assert contact_phone(contact) == "77011112233"
    first, second = amo.requests
    assert (first.method, first.path, first.query) == ("GET", "/api/v4/leads/4101", {"with": ["contacts"]})
    assert first.raw_path == "/api/v4/leads/4101?with=contacts"
    assert first.headers["authorization"] == "Bearer amo-access-1"
    assert (second.method, second.raw_path) == ("GET", "/api/v4/contacts/502")
    assert second.headers["authorization"] == "Bearer amo-access-1"


def test_missing_lead_and_contact_are_none(amo):
    with make_client(amo) as client:
        assert client.get_lead(999) is None  # amoCRM: 204
        assert client.get_contact(999) is None
        amo.script(404, {"title": "Not Found"}, path=r"/api/v4/leads/\d+")
        assert client.get_lead(4101) is None


def test_update_lead_sends_only_given_keys(amo):
    with make_client(amo) as client:
        client.update_lead(4101, status_id=143)
        client.update_lead(4101, pipeline_id=78, responsible_user_id=11)
        with pytest.raises(ValueError):
            client.update_lead(4101)
    one, two = amo.requests
    assert (one.method, one.raw_path, one.json()) == ("PATCH", "/api/v4/leads/4101", {"status_id": 143})
    assert one.headers["content-type"] == "application/json"
    assert two.json() == {"pipeline_id": 78, "responsible_user_id": 11}
    assert amo.leads[4101]["status_id"] == 143


def test_add_note_body(amo):
    with make_client(amo) as client:
        answer = client.add_note(4101, "AI: клиент квалифицирован, горячий")
    (request,) = amo.requests
    assert (request.method, request.raw_path) == ("POST", "/api/v4/leads/4101/notes")
    assert request.json() == [
        {"note_type": "common", "params": {"text": "AI: клиент квалифицирован, горячий"}}
    ]
    assert request.headers["authorization"] == "Bearer amo-access-1"
    assert answer["_embedded"]["notes"][0]["entity_id"] == 4101


# --- tokens ----------------------------------------------------------------------------------------


def test_401_refreshes_once_and_hands_new_refresh_token_to_caller(amo):
    saved: list[tuple[str, str]] = []
    client = make_client(
        amo,
        access_token="amo-access-stale",
        refresh_token="amo-refresh-1",
        client_id=amo.client_id,
        client_secret=amo.client_secret,
        redirect_uri=amo.redirect_uri,
        on_tokens=lambda access, refresh: saved.append((access, refresh)),
    )
    assert client.get_lead(4101)["id"] == 4101
    assert saved == [("amo-access-2", "amo-refresh-2")]
    assert (client.access_token, client.refresh_token) == ("amo-access-2", "amo-refresh-2")
    stale, refresh, retry = amo.requests
    assert stale.headers["authorization"] == "Bearer amo-access-stale"
    assert (refresh.method, refresh.raw_path) == ("POST", "/oauth2/access_token")
    assert "authorization" not in refresh.headers
    assert refresh.json() == {
        "client_id": "amo-client",
        "client_secret": "amo-secret",
        "grant_type": "refresh_token",
        "refresh_token": "amo-refresh-1",
        "redirect_uri": "https://crm.example.com/amocrm/oauth",
    }
    assert retry.raw_path == "/api/v4/leads/4101?with=contacts"
    assert retry.headers["authorization"] == "Bearer amo-access-2"
    # The next call uses the new token directly.
    client.add_note(4101, "ok")
    assert amo.requests[-1].headers["authorization"] == "Bearer amo-access-2"
    assert len(amo.requests) == 4


def test_401_twice_after_refresh_is_auth_error(amo):
    client = make_client(
        amo,
        access_token="stale",
        refresh_token="amo-refresh-1",
        client_id=amo.client_id,
        client_secret=amo.client_secret,
        redirect_uri=amo.redirect_uri,
    )
    amo.script(401, {"detail": "Unauthorized"}, path=r"/api/v4/.*", times=2)
    with pytest.raises(AmoAuthError):
        client.get_lead(4101)
    assert [r.path for r in amo.requests] == [
        "/api/v4/leads/4101",
        "/oauth2/access_token",
        "/api/v4/leads/4101",
    ]


def test_long_lived_token_401_is_auth_error_without_refresh(amo):
    client = make_client(amo, access_token="revoked-long-lived")
    with pytest.raises(AmoAuthError) as err:
        client.get_lead(4101)
    assert err.value.retryable is False
    assert len(amo.requests) == 1


def test_refused_refresh_is_auth_error(amo):
    saved = []
    client = make_client(
        amo,
        access_token="stale",
        refresh_token="amo-refresh-old",
        client_id=amo.client_id,
        client_secret=amo.client_secret,
        redirect_uri=amo.redirect_uri,
        on_tokens=lambda a, r: saved.append((a, r)),
    )
    with pytest.raises(AmoAuthError) as err:
        client.update_lead(4101, status_id=1)
    assert "Token has been revoked" in err.value.detail
    assert saved == []
    assert [r.path for r in amo.requests] == ["/api/v4/leads/4101", "/oauth2/access_token"]


# --- retries ---------------------------------------------------------------------------------------


def test_429_and_5xx_are_retried_then_succeed(amo):
    amo.script(429, {"title": "Too Many Requests"}, path=r"/api/v4/leads/4101")
    amo.script(502, b"<html>Bad Gateway</html>", path=r"/api/v4/leads/4101")
    with make_client(amo) as client:
        assert client.get_lead(4101)["id"] == 4101
    assert len(amo.requests) == 3
    assert all(r.raw_path == "/api/v4/leads/4101?with=contacts" for r in amo.requests)


def test_persistent_5xx_gives_retryable_error_after_max_retries(amo):
    amo.script(503, {"detail": "maintenance"}, times=100)
    with make_client(amo, max_retries=3) as client, pytest.raises(AmoApiError) as err:
        client.add_note(4101, "x")
    assert err.value.retryable is True
    assert err.value.status_code == 503
    assert len(amo.requests) == 4  # the first try + 3 retries


def test_persistent_429_gives_retryable_error(amo):
    amo.script(429, {"title": "Too Many Requests"}, times=100)
    with make_client(amo, max_retries=2) as client, pytest.raises(AmoApiError) as err:
        client.get_contact(502)
    assert (err.value.retryable, err.value.status_code, len(amo.requests)) == (True, 429, 3)


def test_backoff_grows_exponentially(amo):
    amo.script(500, {"detail": "oops"}, times=3)
    started = time.monotonic()
    with make_client(amo, backoff=0.05, max_retries=3) as client:
        client.get_contact(502)
    # 0.05 + 0.1 + 0.2 (plus up to 0.05 jitter each) before the 4th attempt succeeds.
    assert 0.35 <= time.monotonic() - started < 2.0
    gaps = [b.at - a.at for a, b in zip(amo.requests, amo.requests[1:], strict=False)]
    assert gaps[2] > gaps[0]


def test_other_4xx_is_not_retried_and_keeps_amocrm_text(amo):
    with make_client(amo) as client, pytest.raises(AmoApiError) as err:
        client.update_lead(999999, status_id=143)
    assert err.value.retryable is False
    assert err.value.status_code == 400
    assert "Lead not found" in err.value.detail
    assert len(amo.requests) == 1


def test_transport_errors_are_retried_then_retryable_error():
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    client = AmoClient(
        f"http://127.0.0.1:{port}",
        access_token="t",
        backoff=0.001,
        max_retries=2,
        client=httpx.Client(timeout=1.0),
    )
    with pytest.raises(AmoApiError) as err:
        client.get_lead(1)
    assert err.value.retryable is True
    assert "ConnectError" in err.value.detail


# --- rate limit ------------------------------------------------------------------------------------


def max_in_window(stamps: list[float], window: float = 1.0) -> int:
    stamps = sorted(stamps)
    best = 0
    for i, start in enumerate(stamps):
        # 250 ms slack for transport jitter on a loaded machine (without a limiter all 20 arrive in ~0.1 s).
        best = max(best, sum(1 for t in stamps[i:] if t < start + window - 0.25))
    return best


def test_local_rate_limiter_seven_per_second(amo):
    limiter = LocalRateLimiter(rate=7, per=1.0)
    started = time.monotonic()
    with make_client(amo, limiter=limiter) as client:
        for _ in range(20):
            client.get_contact(502)
    elapsed = time.monotonic() - started
    assert len(amo.requests) == 20
    assert elapsed >= 1.95  # 7 now, 7 after 1 s, 6 after 2 s
    assert max_in_window([r.at for r in amo.requests]) <= 7


def test_local_rate_limiter_keys_are_independent():
    limiter = LocalRateLimiter(rate=2, per=1.0)
    started = time.monotonic()
    for key in ("a", "a", "b", "b", "c"):
        limiter.acquire(key)
    assert time.monotonic() - started < 0.2


def test_local_rate_limiter_is_thread_safe(amo):
    limiter = LocalRateLimiter(rate=7, per=1.0)

    def work() -> None:
        with make_client(amo, limiter=limiter) as client:
            for _ in range(5):
                client.get_contact(502)

    started = time.monotonic()
    threads = [threading.Thread(target=work) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert time.monotonic() - started >= 1.95
    assert max_in_window([r.at for r in amo.requests]) <= 7


@pytest.fixture
def suite_redis():
    """The suite's real Redis (settings.REDIS_URL, one database per xdist worker); never skipped."""
    import redis
    from django.conf import settings

    client = redis.Redis.from_url(settings.REDIS_URL)
    client.ping()
    yield client
    client.close()


def test_redis_rate_limiter_shared_by_two_threads(amo, suite_redis):
    from django.conf import settings

    suite_redis.delete(f"amocrm:rl:{amo.url}")
    errors: list[BaseException] = []

    def work() -> None:
        # Each worker has its own limiter object and connection, as two processes would.
        import redis

        limiter = RedisRateLimiter(redis.Redis.from_url(settings.REDIS_URL), rate=7, per=1.0)
        try:
            with make_client(amo, limiter=limiter) as client:
                for _ in range(10):
                    client.get_contact(502)
        except BaseException as exc:  # noqa: BLE001 - surfaced below
            errors.append(exc)

    started = time.monotonic()
    threads = [threading.Thread(target=work) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.monotonic() - started
    assert not errors
    assert len(amo.requests) == 20
    assert elapsed >= 1.9
    assert max_in_window([r.at for r in amo.requests]) <= 7
    assert suite_redis.exists(f"amocrm:rl:{amo.url}")
    suite_redis.delete(f"amocrm:rl:{amo.url}")


# --- helpers ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "raw, expected",
    [
        ("8 (701) 111-22-33", "77011112233"),
        ("+7 701 111 22 33", "77011112233"),
        ("87011112233", "77011112233"),
        ("7011112233", "77011112233"),
        ("9161234567", "79161234567"),
        ("+998 90 123 45 67", "998901234567"),
    ],
)
def test_contact_phone_normalises(raw, expected):
    contact = {"custom_fields_values": [{"field_code": "PHONE", "values": [{"value": raw}]}]}
    assert contact_phone(contact) == expected


def test_contact_phone_absent():
    assert contact_phone({"custom_fields_values": None}) is None
    assert (
        contact_phone({"custom_fields_values": [{"field_code": "EMAIL", "values": [{"value": "a@b.c"}]}]})
        is None
    )
    assert (
        contact_phone({"custom_fields_values": [{"field_code": "PHONE", "values": [{"value": "—"}]}]}) is None
    )


def test_lead_contact_ids_edge_cases():
    assert lead_contact_ids({}) == []
    assert lead_contact_ids(
        {"_embedded": {"contacts": [{"id": 1}, {"id": 2, "is_main": True}, {"id": 1}]}}
    ) == [2, 1]


def test_lead_info_text_uses_the_named_field():
    assert lead_info_text(LEAD, "Информация") == "Заявка с сайта\nДом 10x12, Алматы, нужен проект"


def test_lead_info_text_falls_back_to_every_text_field():
    assert lead_info_text(LEAD, "Комментарий") == (
        "Заявка с сайта\nИнформация: Дом 10x12, Алматы, нужен проект\nГород: Алматы"
    )
    assert lead_info_text({"name": "Сделка #1", "custom_fields_values": None}, "Информация") == "Сделка #1"
