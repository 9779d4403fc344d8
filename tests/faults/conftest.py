"""The fault suite's stack (one per session: separate OS processes, its own PostgreSQL and Redis), two tenants
on it (the offline brain; an OpenAI-compatible LLM), the provider and LLM stand-ins, and the checks that
nothing was lost or done twice."""
from __future__ import annotations

import itertools
import random
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import httpx
import pytest

from tests.faults.stack import OWNER_PASSWORD, WAIT, Stack, wait_until, webhook_path
from tests.faults.standins import ChatFlowStandin, HeldLLM

# What makes recovery take seconds instead of an hour in this environment; each is a product setting
# (buildcrm/settings.py, .env.example), and the product's dedup makes every early redelivery harmless.
FAULT_SETTINGS = {
    "BROKER_VISIBILITY_TIMEOUT": "15",  # a killed worker's unacknowledged tasks go to another worker
    "BROKER_RESTORE_INTERVAL": "1",  # how often a worker looks for such tasks
    "INBOUND_SWEEP_SECONDS": "2",  # stored client messages whose processing kick was lost
    "OUTBOUND_REQUEUE_SECONDS": "2",  # queued outbound messages whose delivery task was lost, or attempt died
    "OUTBOUND_STALE_SECONDS": "12",  # … once untouched this long (above the adapters' 10 s HTTP timeout)
    "AI_SWEEP_SECONDS": "2",  # client messages whose AI turn was lost
    "AI_UNANSWERED_AFTER_SECONDS": "6",  # … once unanswered this long
    "FOLLOWUP_SWEEP_SECONDS": "30",  # follow-ups are off in these tenants
    "SEND_RETRY_BASE_SECONDS": "0.3",
}


@dataclass
class FaultTenant:
    slug: str
    provisioned: dict
    stack: Stack
    token: str = ""
    posted: dict[str, str] = field(default_factory=dict)  # provider message id → phone, answered 2xx

    @property
    def schema(self) -> str:
        return self.slug.replace("-", "_")

    @property
    def host(self) -> str:
        return f"{self.slug}.localhost"

    def webhook(self, phone: str, text: str, message_id: str, *, timeout: float = 30.0) -> int:
        """ChatFlow posting one client message (its documented payload); returns the HTTP status."""
        body = {"messageType": "text", "message": text,
                "metadata": {"remoteJid": f"{phone}@s.whatsapp.net", "messageId": message_id,
                             "timestamp": int(time.time()), "instanceId": "fault-instance",
                             "sender": f"Клиент {phone}"},
                "mediaData": None}
        status = httpx.post(f"{self.stack.url}{webhook_path(self.provisioned, 'chatflow')}", json=body,
                            headers={"Host": "localhost"}, timeout=timeout).status_code
        if 200 <= status < 300:
            self.posted[message_id] = phone
        return status

    def deliver(self, phone: str, text: str, message_id: str) -> None:
        """As a provider does: post until the webhook is stored (any non-2xx is retried)."""
        wait_until(lambda: 200 <= self.webhook(phone, text, message_id) < 300, what=f"webhook {message_id} stored")

    def api(self, method: str, path: str, *, timeout: float = 30.0, **kwargs) -> httpx.Response:
        headers = {"Host": self.host, **({"Authorization": f"Token {self.token}"} if self.token else {})}
        return httpx.request(method, f"{self.stack.url}{path}", headers=headers, timeout=timeout, **kwargs)


_numbers = itertools.count(random.randint(1000, 8000) * 1000)


def phones(n: int) -> list[str]:
    return [f"7701{next(_numbers):07d}" for _ in range(n)]


@pytest.fixture(scope="session")
def chatflow() -> Iterator[ChatFlowStandin]:
    server = ChatFlowStandin()
    yield server
    server.close()


@pytest.fixture(scope="session")
def llm() -> Iterator[HeldLLM]:
    server = HeldLLM()
    yield server
    server.close()


@pytest.fixture(scope="session")
def stack() -> Iterator[Stack]:
    product = Stack(settings=FAULT_SETTINGS)
    try:
        product.start()
        yield product
    except BaseException:
        print(product.logs())
        raise
    finally:
        product.stop()


def _tenant(stack: Stack, slug: str, chatflow: ChatFlowStandin, ai: dict) -> FaultTenant:
    config = {"ai": {"enabled": True, "debounce_seconds": 0, **ai}, "followups": {"enabled": False},
              "reengagement": {"enabled": False}, "outbound_channel": "chatflow",
              "channels": {"chatflow": {"api_url": chatflow.url, "token": "fault-token",
                                        "instance_id": "fault-instance"}}}
    tenant = FaultTenant(slug=slug, provisioned=stack.provision(slug, config), stack=stack)
    answer = tenant.api("POST", "/api/auth/token/", json={"email": f"owner@{slug}.test", "password": OWNER_PASSWORD})
    assert answer.status_code == 200, answer.text
    tenant.token = answer.json()["token"]
    return tenant


@pytest.fixture(scope="session")
def tenants(stack, chatflow, llm) -> dict[str, FaultTenant]:
    """Three tenants, provisioned side by side: the offline brain; an OpenAI-compatible LLM with a timeout longer
    than any hold of a test; the same LLM with a 2 s timeout and one retry (then the offline brain answers)."""
    openai = {"provider": "openai", "base_url": llm.url, "api_key": "sk-fault", "model": "standin", "max_retries": 1}
    ai = {"faults": {"provider": "offline"},
          "faults-llm": {**openai, "timeout_seconds": 60},
          "faults-llm-timeout": {**openai, "timeout_seconds": 2}}
    with ThreadPoolExecutor(len(ai)) as pool:
        made = pool.map(lambda slug: _tenant(stack, slug, chatflow, ai[slug]), ai)
        return {tenant.slug: tenant for tenant in made}


@pytest.fixture(scope="session")
def offline_tenant(tenants) -> FaultTenant:
    return tenants["faults"]


@pytest.fixture(scope="session")
def llm_tenant(tenants) -> FaultTenant:
    return tenants["faults-llm"]


@pytest.fixture(scope="session")
def llm_timeout_tenant(tenants) -> FaultTenant:
    return tenants["faults-llm-timeout"]


@pytest.fixture
def logs_on_failure(stack, request) -> Iterator[None]:
    yield
    report = getattr(request.node, "rep_call", None)
    if report is not None and report.failed:
        print(stack.logs())


# -- the checks ------------------------------------------------------------------------------------------


def state(tenant: FaultTenant, numbers: list[str]) -> dict:
    """The tenant's leads, messages and AI turns for these client numbers, read straight from PostgreSQL."""
    s = tenant.schema
    leads = tenant.stack.query(f"SELECT id, phone, COALESCE((ai_state->>'answered_upto')::bigint, 0) "
                               f"FROM {s}.leads_lead WHERE phone = ANY(%s)", [numbers])
    lead_ids = [row[0] for row in leads]
    messages = tenant.stack.query(
        f"SELECT id, lead_id, direction, status, kind, text, provider_message_id, meta->'provider_ids', "
        f"inbound_pending, author_kind FROM {s}.conversations_message "
        f"WHERE lead_id = ANY(%s) OR (lead_id IS NULL AND meta->>'phone' = ANY(%s)) ORDER BY id", [lead_ids, numbers])
    turns = tenant.stack.query(f"SELECT lead_id, message_id, status, brain FROM {s}.aiagent_aiturn "
                               f"WHERE lead_id = ANY(%s)", [lead_ids])
    return {"leads": leads, "messages": messages, "turns": turns}


def unsettled(tenant: FaultTenant, numbers: list[str]) -> list[str]:
    """What still waits: empty once every stored client message was processed and answered and every reply
    left. (Duplicates are judged after the broker has drained, in `assert_nothing_lost`.)"""
    st = state(tenant, numbers)
    problems = []
    pending = [m[0] for m in st["messages"] if m[8]]
    if pending:
        problems.append(f"inbound_pending messages {pending}")
    if len({row[1] for row in st["leads"]}) < len(numbers):
        problems.append(f"leads for {len({row[1] for row in st['leads']})} of {len(numbers)} clients")
    for lead_id, phone, answered_upto in st["leads"]:
        mine = [m for m in st["messages"] if m[1] == lead_id]
        last_in = max((m[0] for m in mine if m[2] == "in"), default=0)
        if answered_upto < last_in or not any(m[2] == "out" and m[0] > last_in and m[9] == "ai" for m in mine):
            problems.append(f"lead {lead_id} ({phone}) not answered after message {last_in}")
    queued = [m[0] for m in st["messages"] if m[2] == "out" and m[3] == "queued"]
    if queued:
        problems.append(f"outbound still queued {queued}")
    return problems


def broker_idle(stack: Stack) -> bool:
    """No task waiting in the queue, none unacknowledged (running, or held for its countdown)."""
    import redis

    client = redis.Redis.from_url(stack.redis.url)
    try:
        return client.llen("celery") == 0 and client.hlen("unacked") == 0
    finally:
        client.close()


def settle(tenant: FaultTenant, numbers: list[str], *, timeout: float = WAIT) -> None:
    wait_until(lambda: not unsettled(tenant, numbers), what="every client message processed and answered",
               timeout=timeout, every=0.3, detail=lambda: f": {unsettled(tenant, numbers)}")
    wait_until(lambda: broker_idle(tenant.stack), what="the broker to drain", every=0.3)


def assert_nothing_lost(tenant: FaultTenant, chatflow, numbers: list[str], *, answers_per_client: int = 1) -> dict:
    """Every stored client message processed once (one lead per client, none pending, one AI turn per message),
    every reply delivered exactly once (what the gateway accepted, by its message id and text)."""
    st = state(tenant, numbers)
    posted = {mid for mid, phone in tenant.posted.items() if phone in numbers}
    leads_by_phone = Counter(row[1] for row in st["leads"])
    assert sorted(leads_by_phone) == sorted(numbers) and set(leads_by_phone.values()) == {1}, leads_by_phone
    inbound = [m for m in st["messages"] if m[2] == "in"]
    assert sorted(m[6] for m in inbound) == sorted(posted), "each stored webhook is one message"
    assert not [m for m in inbound if m[8]], "no inbound message left pending"
    turns = Counter((t[1], t[2]) for t in st["turns"])
    answered = Counter(t[1] for t in st["turns"] if t[2] == "ok")
    assert all(count == 1 for count in answered.values()), f"a client message answered twice: {turns}"
    assert not [t for t in st["turns"] if t[2] == "failed"], f"failed AI turns: {turns}"
    assert len(answered) == len(inbound) == len(numbers) * answers_per_client, turns
    outbound = [m for m in st["messages"] if m[2] == "out"]
    assert outbound and all(m[3] == "sent" for m in outbound), [(m[0], m[3]) for m in outbound if m[3] != "sent"]
    jids = {f"{n}@s.whatsapp.net" for n in numbers}
    delivered = [d for d in chatflow.delivered if d.jid in jids]
    ids = Counter(d.provider_id for d in delivered)
    recorded = Counter(pid for m in outbound for pid in (m[7] or []))
    assert recorded == ids, f"gateway accepted {sorted(ids)}, the product recorded {sorted(recorded)}"
    by_id = {d.provider_id: d for d in delivered}
    phone_of = {lead_id: phone for lead_id, phone, _ in st["leads"]}
    for m in outbound:  # and each to its own client, as written
        assert {by_id[pid].jid for pid in m[7]} == {f"{phone_of[m[1]]}@s.whatsapp.net"}, m
        if m[4] == "text":
            assert by_id[m[6]].text == m[5], f"message {m[0]} went out as {by_id[m[6]].text!r}"
    return {"clients": len(numbers), "inbound": len(inbound), "outbound": len(outbound), "deliveries": len(delivered)}


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    setattr(item, f"rep_{report.when}", report)


FIGURES: list[dict] = []  # one row per fault case that passed its checks


def pytest_terminal_summary(terminalreporter):
    if not FIGURES:
        return
    terminalreporter.section("faults survived")
    for row in FIGURES:
        terminalreporter.write_line(
            f"{row['case']}: faults={row['faults']} clients={row['clients']} inbound={row['inbound']} "
            f"outbound={row['outbound']} deliveries={row['deliveries']} lost=0 duplicated=0"
            + (f" ({row['note']})" if row.get("note") else ""))
    terminalreporter.write_line(f"cases={len(FIGURES)} faults={sum(r['faults'] for r in FIGURES)} "
                                f"messages={sum(r['inbound'] + r['outbound'] for r in FIGURES)} lost=0 duplicated=0")
