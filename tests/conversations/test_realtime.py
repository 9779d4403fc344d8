"""Websocket /ws/: lead.created, message.created and lead.updated reach exactly the users allowed to see
the lead, within its tenant only. Committed data (live_tenant), a real worker, real Redis channel layer.

"Gets nothing" is asserted without sleeping: after the events a socket must not receive, something it must
receive is triggered; Redis delivers a channel's messages in order, so everything before that sentinel is
checked."""
from __future__ import annotations

import json

import pytest
from asgiref.sync import sync_to_async
from channels.testing import WebsocketCommunicator

from buildcrm.asgi import application
from tests.conftest import TenantClient, host_of, user_of

pytestmark = pytest.mark.live


@pytest.fixture(autouse=True)
def fresh_channel_layer():
    """Each test has its own event loop; a channel layer cached by an earlier test holds locks bound to
    that loop, so every test starts (and ends) with a new layer instance."""
    from channels.layers import channel_layers

    channel_layers.backends.pop("default", None)
    yield
    channel_layers.backends.pop("default", None)


def _token(tenant, role: str) -> str:
    from django_tenants.utils import tenant_context
    from rest_framework.authtoken.models import Token

    with tenant_context(tenant):
        return Token.objects.get_or_create(user=user_of(tenant, role))[0].key


async def socket(tenant, role: str) -> WebsocketCommunicator:
    token = await sync_to_async(_token)(tenant, role)
    communicator = WebsocketCommunicator(application, f"/ws/?token={token}",
                                         headers=[(b"host", host_of(tenant).encode())])
    connected, _ = await communicator.connect(timeout=5)
    assert connected
    hello = await communicator.receive_json_from(timeout=5)
    assert hello["type"] == "hello" and hello["tenant"] == tenant.slug
    return communicator


async def events_until(communicator, done, timeout: float = 15) -> list[dict]:
    """Every event received up to and including the first one for which done(event) is true."""
    seen = []
    while True:
        event = await communicator.receive_json_from(timeout=timeout)
        if event["type"].startswith("notification."):
            continue  # the bell's own events (tests/notifications); these tests follow the board's
        seen.append(event)
        if done(event):
            return seen


def lead_of(event) -> int | None:
    if event["type"].startswith("lead."):
        return event["lead"]["id"]
    if event["type"].startswith("message."):
        return event["lead_id"]
    return None


def is_client_message(lead_id: int, text: str):
    return lambda e: (e["type"] == "message.created" and e["lead_id"] == lead_id
                      and e["message"]["direction"] == "in" and e["message"]["text"] == text)


@sync_to_async
def sandbox(tenant, phone: str, text: str, role: str = "owner") -> int:
    res = TenantClient(tenant).as_role(role).post("/api/sandbox/messages/", {"phone": phone, "name": "Клиент",
                                                                              "text": text}, format="json")
    assert res.status_code == 201, res.content
    return res.json()["lead_id"]


@sync_to_async
def patch(tenant, lead_id: int, body: dict, role: str = "owner") -> dict:
    res = TenantClient(tenant).as_role(role).patch(f"/api/leads/{lead_id}/", body, format="json")
    assert res.status_code == 200, res.content
    return res.json()


@sync_to_async
def configure(tenant, document: dict) -> None:
    from tenants.services import tenant_config_import

    tenant_config_import(tenant, document)


@pytest.mark.asyncio
async def test_sandbox_message_produces_lead_created_and_message_created(live_tenant, worker):
    owner = await socket(live_tenant, "owner")
    lead_id = await sandbox(live_tenant, "77011230001", "Здравствуйте, нужен дом")
    seen = await events_until(owner, is_client_message(lead_id, "Здравствуйте, нужен дом"))
    mine = [e for e in seen if lead_of(e) == lead_id]
    assert mine[0]["type"] == "lead.created"
    created = mine[0]["lead"]
    assert (created["phone"], created["channel"], created["stage_kind"]) == ("77011230001", "sandbox", "new")
    message = mine[-1]["message"]
    assert message["author_kind"] == "client" and message["lead"] == lead_id
    # the next message of the same client is not a new lead
    await sandbox(live_tenant, "77011230001", "Алло?")
    seen = await events_until(owner, is_client_message(lead_id, "Алло?"))
    assert not [e for e in seen if e["type"] == "lead.created" and e["lead"]["id"] == lead_id]
    await owner.disconnect()


@pytest.mark.asyncio
async def test_lead_updated_after_a_patch(live_tenant, worker):
    lead_id = await sandbox(live_tenant, "77011230002", "Добрый день")
    head = await socket(live_tenant, "head")
    await patch(live_tenant, lead_id, {"city": "Караганда", "data": {"windows": 4}}, role="owner")
    seen = await events_until(head, lambda e: e["type"] == "lead.updated" and e["lead"]["id"] == lead_id
                              and e["lead"]["city"] == "Караганда")
    assert seen[-1]["lead"]["data"]["windows"] == 4
    await head.disconnect()


@pytest.mark.asyncio
async def test_restricted_manager_socket_gets_only_assigned_leads(live_tenant, worker):
    await configure(live_tenant, {"leads": {"managers_see_all": False}})
    manager_id = (await sync_to_async(user_of)(live_tenant, "manager")).pk
    manager2_id = (await sync_to_async(user_of)(live_tenant, "manager2")).pk
    manager = await socket(live_tenant, "manager")
    manager2 = await socket(live_tenant, "manager2")
    owner = await socket(live_tenant, "owner")

    theirs = await sandbox(live_tenant, "77011230003", "Чужой лид")
    await patch(live_tenant, theirs, {"assignee": manager2_id})
    free = await sandbox(live_tenant, "77011230004", "Ничей лид")
    await sandbox(live_tenant, "77011230004", "Ничей лид, ещё раз")
    mine = await sandbox(live_tenant, "77011230005", "Мой лид")
    assigned = await patch(live_tenant, mine, {"assignee": manager_id})
    assert assigned["assignee"]["id"] == manager_id
    await sandbox(live_tenant, "77011230005", "Мой лид, вопрос")

    seen = await events_until(manager, is_client_message(mine, "Мой лид, вопрос"))
    assert {lead_of(e) for e in seen} == {mine}, seen
    assert any(e["type"] == "lead.updated" and e["lead"]["assignee"]["id"] == manager_id for e in seen)
    assert "Чужой" not in json.dumps(seen, ensure_ascii=False) and "Ничей" not in json.dumps(seen, ensure_ascii=False)

    await sandbox(live_tenant, "77011230003", "Чужой лид, ещё")
    seen2 = await events_until(manager2, is_client_message(theirs, "Чужой лид, ещё"))
    assert {lead_of(e) for e in seen2} == {theirs}, seen2

    # the owner saw all three
    seen_owner = await events_until(owner, is_client_message(theirs, "Чужой лид, ещё"))
    assert {lead_of(e) for e in seen_owner} >= {theirs, free, mine}
    for communicator in (manager, manager2, owner):
        await communicator.disconnect()


@pytest.fixture
def other_live_tenant(live_tenant, django_db_blocker):
    from tests.conftest import _provision

    with django_db_blocker.unblock():
        return _provision(live_tenant.slug + "o")


@pytest.mark.asyncio
async def test_socket_of_another_tenant_gets_nothing(live_tenant, other_live_tenant, worker):
    outsider = await socket(other_live_tenant, "owner")
    insider = await socket(live_tenant, "owner")
    secret = await sandbox(live_tenant, "77011239999", "Секрет тенанта А")
    await patch(live_tenant, secret, {"city": "Секретград"})
    await events_until(insider, lambda e: e["type"] == "lead.updated" and e["lead"]["city"] == "Секретград")

    sentinel = await sandbox(other_live_tenant, "77011238888", "Свой клиент")
    seen = await events_until(outsider, is_client_message(sentinel, "Свой клиент"))
    dumped = json.dumps(seen, ensure_ascii=False)
    assert "77011239999" not in dumped and "Секрет" not in dumped
    assert all(e.get("lead", {}).get("phone", "77011238888") == "77011238888" for e in seen)
    for communicator in (outsider, insider):
        await communicator.disconnect()


@pytest.mark.asyncio
async def test_idle_socket_stays_open_and_still_receives(live_tenant):
    """An idle /ws/ must outlive the channel layer's blocking read (BZPOPMIN 5 s) and redis-py 8's default
    socket_timeout (5 s): before the fix the consumer died with redis TimeoutError after ~5.4 s (1011)."""
    import asyncio

    from core.realtime import group_staff, publish

    owner = await socket(live_tenant, "owner")
    await asyncio.sleep(12)  # idle well past 5.4 s, several blocking reads in a row
    assert await owner.receive_nothing(timeout=0.1)  # no close frame, no error
    await asyncio.wrap_future(publish([group_staff(live_tenant.id)], {"type": "lead.removed", "lead_id": -1}))
    event = await owner.receive_json_from(timeout=10)
    assert event == {"type": "lead.removed", "lead_id": -1}
    await owner.send_json_to({"type": "ping"})
    assert await owner.receive_json_from(timeout=5) == {"type": "pong"}
    await owner.disconnect()


@pytest.mark.asyncio
async def test_password_reset_closes_the_members_live_sockets(live_tenant):
    """The old password's credentials end everywhere, open sockets included; the token no longer opens one."""
    manager = await socket(live_tenant, "manager")
    owner = await socket(live_tenant, "owner")
    old_token = await sync_to_async(_token)(live_tenant, "manager")
    manager_id = (await sync_to_async(user_of)(live_tenant, "manager")).pk

    @sync_to_async
    def reset() -> int:
        return TenantClient(live_tenant).as_role("owner").post(
            f"/api/users/{manager_id}/password/", {"new_password": "Fresh-horse-battery-91"},
            format="json").status_code

    assert await reset() == 204
    closed = await manager.receive_output(timeout=10)
    assert closed == {"type": "websocket.close", "code": 4401}
    again = WebsocketCommunicator(application, f"/ws/?token={old_token}",
                                  headers=[(b"host", host_of(live_tenant).encode())])
    assert not (await again.connect(timeout=5))[0]
    # everyone else's socket is untouched
    await owner.send_json_to({"type": "ping"})
    assert await owner.receive_json_from(timeout=5) == {"type": "pong"}
    await owner.disconnect()


@pytest.mark.asyncio
async def test_garbage_from_the_client_does_not_kill_its_socket(live_tenant):
    owner = await socket(live_tenant, "owner")
    for junk in ("not json", "[1, 2]", '"ping"', "{}", '{"type": null}', "x" * 5000, '{"type": "ping"' + "]" * 10):
        await owner.send_to(text_data=junk)
    await owner.send_to(bytes_data=b"\x00\xff")
    await owner.send_json_to({"type": "ping"})
    assert await owner.receive_json_from(timeout=5) == {"type": "pong"}
    await owner.disconnect()


@pytest.mark.asyncio
async def test_own_password_change_keeps_this_sessions_socket_and_closes_the_others(live_tenant):
    from django.test import Client

    from tests.conftest import PASSWORD

    host = host_of(live_tenant)

    def login() -> Client:
        client = Client(HTTP_HOST=host, enforce_csrf_checks=True)
        client.get("/api/auth/csrf/")
        res = client.post("/api/auth/login/", {"email": f"head@{live_tenant.slug}.test", "password": PASSWORD},
                          content_type="application/json", HTTP_X_CSRFTOKEN=client.cookies["csrftoken"].value)
        assert res.status_code == 200
        return client

    async def cookie_socket(client: Client) -> WebsocketCommunicator:
        communicator = WebsocketCommunicator(application, "/ws/", headers=[
            (b"host", host.encode()), (b"origin", f"http://{host}".encode()),
            (b"cookie", f"sessionid={client.cookies['sessionid'].value}".encode())])
        assert (await communicator.connect(timeout=5))[0]
        assert (await communicator.receive_json_from(timeout=5))["type"] == "hello"
        return communicator

    here, elsewhere = await sync_to_async(login)(), await sync_to_async(login)()
    mine, theirs = await cookie_socket(here), await cookie_socket(elsewhere)
    token_socket = await socket(live_tenant, "head")

    @sync_to_async
    def change() -> int:
        return here.post("/api/auth/password/", {"current_password": PASSWORD, "new_password": "Fresh-horse-91"},
                         content_type="application/json", HTTP_X_CSRFTOKEN=here.cookies["csrftoken"].value).status_code

    assert await change() == 200
    assert await theirs.receive_output(timeout=10) == {"type": "websocket.close", "code": 4401}
    assert await token_socket.receive_output(timeout=10) == {"type": "websocket.close", "code": 4401}
    await mine.send_json_to({"type": "ping"})
    assert await mine.receive_json_from(timeout=5) == {"type": "pong"}
    await mine.disconnect()
    # the session that made the change reconnects with its new cookie; the other one is refused
    assert (await cookie_socket(here)) is not None
    refused = WebsocketCommunicator(application, "/ws/", headers=[
        (b"host", host.encode()), (b"origin", f"http://{host}".encode()),
        (b"cookie", f"sessionid={elsewhere.cookies['sessionid'].value}".encode())])
    assert not (await refused.connect(timeout=5))[0]
