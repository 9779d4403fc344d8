"""The inbox view's data: "client is waiting" (since the client's first unanswered message, cleared by our answer),
unread counts per user (cleared for that user when they open the card), and the filters mine / unassigned /
waiting / hot / unread and search on the list and on the board — never across tenants or past a role's view."""
from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django_tenants.utils import tenant_context

from tests.conftest import user_of
from tests.leads.conftest import add_message, make_lead, result_ids, set_managers_see_all

UTC = ZoneInfo("UTC")
T0 = datetime(2026, 5, 1, 9, 0, tzinfo=UTC)


def touch(tenant, lead, message):
    from leads.models import Lead
    from leads.services import lead_touch_message

    with tenant_context(tenant):
        lead_touch_message(lead=lead, message=message)
        return Lead.objects.get(pk=lead.pk)


def test_client_waiting_runs_from_the_first_unanswered_message_until_we_answer(tenant_a):
    lead = make_lead(tenant_a, name="Ждёт")
    fresh = touch(tenant_a, lead, add_message(tenant_a, lead, direction="in", text="Здравствуйте", at=T0))
    assert fresh.client_waiting_since == T0 and fresh.inbound_count == 1 and fresh.waiting_since is None
    later = T0 + timedelta(minutes=5)
    fresh = touch(tenant_a, fresh, add_message(tenant_a, lead, direction="in", text="Алло?", at=later))
    assert fresh.client_waiting_since == T0 and fresh.inbound_count == 2  # still the first unanswered one
    answered = T0 + timedelta(minutes=7)
    fresh = touch(tenant_a, fresh, add_message(tenant_a, lead, direction="out", text="Да!", at=answered))
    assert fresh.client_waiting_since is None and fresh.waiting_since == answered and fresh.inbound_count == 2


def test_a_batch_counts_every_client_message_even_through_a_stale_object(tenant_a):
    from leads.models import Lead
    from leads.services import leads_touch_messages

    lead = make_lead(tenant_a)
    stale = make_lead(tenant_a)  # another object of the same row, read before the others were counted
    with tenant_context(tenant_a):
        stale = Lead.objects.get(pk=lead.pk)
    touch(tenant_a, lead, add_message(tenant_a, lead, direction="in", text="1", at=T0))
    messages = [add_message(tenant_a, lead, direction=d, text=str(n), at=T0 + timedelta(minutes=n))
                for n, d in enumerate(["in", "out", "in"], start=1)]
    with tenant_context(tenant_a):
        leads_touch_messages([(stale, m) for m in messages])
        fresh = Lead.objects.get(pk=lead.pk)
    assert fresh.inbound_count == 3 and fresh.client_waiting_since == T0 + timedelta(minutes=3)


@pytest.fixture
def inbox(tenant_a):
    manager = user_of(tenant_a, "manager")
    waiting = make_lead(tenant_a, name="Айгерим Ждёт", phone="77015550001", assignee=manager, score=60,
                        temperature="hot")
    touch(tenant_a, waiting, add_message(tenant_a, waiting, direction="in", text="Сколько стоит баня?"))
    touch(tenant_a, waiting, add_message(tenant_a, waiting, direction="in", text="И доставка?"))
    answered = make_lead(tenant_a, name="Борис Отвечен", phone="77015550002", score=40, temperature="warm")
    touch(tenant_a, answered, add_message(tenant_a, answered, direction="in", text="Привет"))
    touch(tenant_a, answered, add_message(tenant_a, answered, direction="out", text="Добрый день!"))
    quiet = make_lead(tenant_a, name="Виктор Тихий", phone="77015550003", score=20, temperature="cold",
                      assignee=user_of(tenant_a, "manager2"))
    return waiting, answered, quiet


def rows(response) -> dict[int, dict]:
    assert response.status_code == 200, response.content
    return {row["id"]: row for row in response.json()["results"]}


def test_unread_counts_are_per_user_and_cleared_by_opening_the_card(tenant_a, client_for, inbox):
    waiting, answered, quiet = inbox
    head, owner = client_for(tenant_a, "head"), client_for(tenant_a, "owner")
    seen = rows(head.get("/api/leads/"))
    assert (seen[waiting.pk]["unread"], seen[answered.pk]["unread"], seen[quiet.pk]["unread"]) == (2, 1, 0)
    assert seen[waiting.pk]["client_waiting_since"] is not None and seen[answered.pk]["client_waiting_since"] is None
    opened = head.post(f"/api/leads/{waiting.pk}/read/")
    assert opened.status_code == 200 and opened.json() == {"read_count": 2, "unread": 0}
    assert rows(head.get("/api/leads/"))[waiting.pk]["unread"] == 0
    assert rows(owner.get("/api/leads/"))[waiting.pk]["unread"] == 2  # the owner has not opened it
    touch(tenant_a, waiting, add_message(tenant_a, waiting, direction="in", text="Ау"))
    assert rows(head.get("/api/leads/"))[waiting.pk]["unread"] == 1
    board = head.get("/api/board/").json()
    cards = {card["id"]: card for column in board["stages"] for card in column["leads"]}
    assert cards[waiting.pk]["unread"] == 1 and cards[waiting.pk]["read_count"] == 2


def test_reading_is_for_leads_the_user_may_see(tenant_a, tenant_b, client_for, inbox):
    waiting, _, quiet = inbox
    assert client_for(tenant_b, "owner").post(f"/api/leads/{waiting.pk}/read/").status_code == 404
    set_managers_see_all(tenant_a, False)
    try:
        assert client_for(tenant_a, "manager").post(f"/api/leads/{quiet.pk}/read/").status_code == 404
        assert client_for(tenant_a, "manager").post(f"/api/leads/{waiting.pk}/read/").status_code == 200
    finally:
        set_managers_see_all(tenant_a, True)
    assert client_for(tenant_a).post(f"/api/leads/{waiting.pk}/read/").status_code == 401


@pytest.mark.parametrize("query, who", [
    ("waiting=true", ["waiting"]),
    ("waiting=false", ["answered", "quiet"]),
    ("unread=true", ["waiting", "answered"]),
    ("assignee=me", ["waiting"]),
    ("assignee=none", ["answered"]),
    ("temperature=hot", ["waiting"]),
    ("waiting=true&assignee=none", []),
    ("q=Тихий", ["quiet"]),
    ("q=баня", ["waiting"]),
])
def test_inbox_filters_on_the_list_and_the_board(tenant_a, client_for, inbox, query, who):
    names = dict(zip(["waiting", "answered", "quiet"], inbox, strict=True))
    wanted = sorted(names[w].pk for w in who)
    manager = client_for(tenant_a, "manager")
    listed = sorted(i for i in result_ids(manager.get(f"/api/leads/?{query}&page_size=100")) if i in
                    {lead.pk for lead in inbox})
    assert listed == wanted
    board = manager.get(f"/api/board/?{query}")
    assert board.status_code == 200, board.content
    on_board = sorted(card["id"] for column in board.json()["stages"] for card in column["leads"]
                      if card["id"] in {lead.pk for lead in inbox})
    assert on_board == wanted
    counted = sum(column["count"] for column in board.json()["stages"])
    assert counted >= len(wanted)


def test_board_filters_keep_a_restricted_managers_view(tenant_a, client_for, inbox):
    waiting, answered, quiet = inbox
    set_managers_see_all(tenant_a, False)
    try:
        board = client_for(tenant_a, "manager").get("/api/board/?waiting=false").json()
    finally:
        set_managers_see_all(tenant_a, True)
    ids = {card["id"] for column in board["stages"] for card in column["leads"]}
    assert quiet.pk not in ids and answered.pk not in ids


@pytest.mark.parametrize("query", ["waiting=maybe", "unread=2", "assignee=everyone", "temperature=boiling",
                                   "q=" + "x" * 201, "per_stage=-1", "channel=fax"])
def test_bad_board_filters_are_a_400(tenant_a, client_for, query):
    response = client_for(tenant_a, "owner").get(f"/api/board/?{query}")
    assert response.status_code == 400, response.content


def test_me_tells_the_tenants_time_zone(tenant_a, client_for):
    from tenants.services import tenant_config_import

    tenant_config_import(tenant_a, {"timezone": "Asia/Almaty"})
    assert client_for(tenant_a, "manager").get("/api/auth/me/").json()["tenant"]["timezone"] == "Asia/Almaty"
