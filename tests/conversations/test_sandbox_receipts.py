"""The sandbox's phone simulator reports delivery and reading of our messages (issue 16: they never reached ✓✓)."""
from __future__ import annotations

import pytest
from django_tenants.utils import tenant_context

from tests.conftest import user_of
from tests.leads.conftest import set_managers_see_all

PHONE = "77017778800"


def _dialog(tenant, client, *statuses: str) -> tuple[int, list[int]]:
    """A sandbox client who wrote in, and our outbound messages to them in the given statuses."""
    from conversations.models import Message

    lead_id = client.post("/api/sandbox/messages/", {"phone": PHONE, "text": "Привет"}, format="json").json()["lead_id"]
    ids = []
    with tenant_context(tenant):
        for i, status in enumerate(statuses):
            ids.append(Message.objects.create(
                lead_id=lead_id, direction="out", text=f"ответ {i}", provider="sandbox", author_kind="ai",
                status=status, provider_message_id=None if status == "queued" else f"sandbox-t{i}").pk)
    return lead_id, ids


def _statuses(tenant, ids: list[int]) -> list[str]:
    from conversations.models import Message

    with tenant_context(tenant):
        by_id = dict(Message.objects.filter(pk__in=ids).values_list("id", "status"))
    return [by_id[i] for i in ids]


def test_received_then_shown_makes_sent_messages_delivered_then_read(tenant_a, client_for):
    owner = client_for(tenant_a, "owner")
    _, ids = _dialog(tenant_a, owner, "sent", "sent", "queued")
    res = owner.post("/api/sandbox/receipts/", {"phone": "+7 701 777 88 00", "status": "delivered"}, format="json")
    assert res.status_code == 200, res.content
    assert res.json() == {"updated": 2}
    # a queued message has not reached the phone yet: no receipt moves it
    assert _statuses(tenant_a, ids) == ["delivered", "delivered", "queued"]
    assert owner.post("/api/sandbox/receipts/", {"phone": PHONE, "status": "read"}, format="json").json() == {
        "updated": 2}
    assert _statuses(tenant_a, ids) == ["read", "read", "queued"]
    # the card's history shows the same statuses (the product's own view of the message)
    dialog = owner.get("/api/sandbox/messages/", {"phone": PHONE}).json()
    assert [m["status"] for m in dialog if m["direction"] == "out"] == ["read", "read", "queued"]


def test_read_never_goes_back_and_upto_bounds_what_the_page_has_seen(tenant_a, client_for):
    owner = client_for(tenant_a, "owner")
    _, ids = _dialog(tenant_a, owner, "sent", "sent")
    assert owner.post("/api/sandbox/receipts/", {"phone": PHONE, "status": "read", "upto_id": ids[0]},
                      format="json").json() == {"updated": 1}
    assert _statuses(tenant_a, ids) == ["read", "sent"]
    assert owner.post("/api/sandbox/receipts/", {"phone": PHONE, "status": "delivered"},
                      format="json").json() == {"updated": 1}
    assert _statuses(tenant_a, ids) == ["read", "delivered"]


@pytest.mark.parametrize("body", [
    {"phone": PHONE}, {"phone": PHONE, "status": "sent"}, {"phone": PHONE, "status": "failed"},
    {"phone": "abc", "status": "read"}, {"status": "read"}, {"phone": PHONE, "status": "read", "upto_id": 0},
    {"phone": PHONE, "status": "read", "upto_id": "x"}, {"phone": PHONE, "status": ["read"]},
])
def test_bad_input_is_400(tenant_a, client_for, body):
    owner = client_for(tenant_a, "owner")
    _dialog(tenant_a, owner, "sent")
    res = owner.post("/api/sandbox/receipts/", body, format="json")
    assert res.status_code == 400 and res.json()["detail"]


def test_unknown_phone_another_tenant_and_a_manager_who_cannot_see_the_lead_get_404(tenant_a, tenant_b, client_for):
    owner = client_for(tenant_a, "owner")
    lead_id, ids = _dialog(tenant_a, owner, "sent")
    body = {"phone": PHONE, "status": "read"}
    assert owner.post("/api/sandbox/receipts/", {"phone": "77000000001", "status": "read"},
                      format="json").status_code == 404
    assert client_for(tenant_b, "owner").post("/api/sandbox/receipts/", body, format="json").status_code == 404
    set_managers_see_all(tenant_a, False)
    manager = client_for(tenant_a, "manager")
    assert manager.post("/api/sandbox/receipts/", body, format="json").status_code == 404
    assert _statuses(tenant_a, ids) == ["sent"]
    owner.patch(f"/api/leads/{lead_id}/", {"assignee": user_of(tenant_a, "manager").pk}, format="json")
    assert manager.post("/api/sandbox/receipts/", body, format="json").json() == {"updated": 1}
