"""End to end with a real Celery worker, through the sandbox channel: the client writes with
POST /api/sandbox/messages/, the AI answers through the real pipeline, the bench of beat is played by the test
(it enqueues the real `followups.tasks.sweep_due` / `reengage` tasks into the tenant's schema), and what the
client got is read back with GET /api/sandbox/messages/. Follow-up gaps are seconds (`after_minutes` may be
fractional), never sleeps of minutes."""
from __future__ import annotations

import time
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone
from django_tenants.utils import tenant_context

from followups.models import FollowUp
from followups.tasks import reengage, sweep_due
from leads.models import Lead
from tests.followups.conftest import NO_QUIET, configure, phone

pytestmark = pytest.mark.live
WAIT = 60  # an upper bound for the workers, not a timing assertion


def beat(tenant, task=sweep_due):
    with tenant_context(tenant):
        task.delay()
    connection.set_schema_to_public()


def dialog(api, number):
    response = api.get(f"/api/sandbox/messages/?phone={number}")
    assert response.status_code == 200
    return response.json()


def wait_for(tenant, api, number, predicate, *, sweep: bool = True, what: str = ""):
    deadline = time.monotonic() + WAIT
    while time.monotonic() < deadline:
        if sweep:
            beat(tenant)
        messages = dialog(api, number)
        if predicate(messages):
            return messages
        time.sleep(0.3)
    raise AssertionError(f"timed out waiting for {what}: {[(m['purpose'], m['status']) for m in messages]}")


def of(messages, purpose, status="sent"):
    return [m for m in messages if m["purpose"] == purpose and (status is None or m["status"] == status)]


def ai_replies(messages):
    return [m for m in messages if m["direction"] == "out" and m["purpose"] not in ("followup", "reengagement",
                                                                                   "onboarding")]


@pytest.fixture
def live(live_tenant, client_for):
    configure(live_tenant, {
        "ai": {"enabled": True, "provider": "offline", "debounce_seconds": 0},
        "followups": {"enabled": True, "quiet_hours": NO_QUIET, "max_per_lead": 2, "spread_minutes": 0,
                      "steps": [{"after_minutes": 0.02, "text": "Подскажите, актуально?"},
                                {"after_minutes": 0.04, "text": "Когда удобно созвониться?"}]},
    })
    return live_tenant, client_for(live_tenant, "owner")


def lead_of(tenant, lead_id) -> Lead:
    with tenant_context(tenant):
        lead = Lead.objects.get(pk=lead_id)
    connection.set_schema_to_public()
    return lead


def test_a_silent_lead_gets_its_steps_through_the_sandbox(live, worker):
    tenant, api = live
    number = phone()
    posted = api.post("/api/sandbox/messages/", {"phone": number, "name": "Ерлан",
                                                 "text": "Здравствуйте, сколько стоит дом 10 на 12?"}, format="json")
    assert posted.status_code == 201
    lead_id = posted.json()["lead_id"]
    messages = wait_for(tenant, api, number, lambda ms: len(of(ms, "followup")) == 2, what="two follow-ups")
    replies = [m for m in ai_replies(messages) if m["status"] == "sent"]
    assert replies, "the AI answered first"
    first, second = of(messages, "followup")
    assert "актуально" in first["text"].lower() and "созвониться" in second["text"].lower()
    last_reply = max(r["sent_at"] for r in replies if r["id"] < first["id"])
    assert first["sent_at"] > last_reply and second["sent_at"] > first["sent_at"]
    card = api.get(f"/api/leads/{lead_id}/followups/").json()
    assert sorted((f["step"], f["status"]) for f in card if f["kind"] == "followup") == [(1, "sent"), (2, "sent")]
    # max_per_lead = 2: nothing more in this silence, however long the sweeps run.
    for _ in range(5):
        beat(tenant)
    assert len(of(dialog(api, number), "followup", None)) == 2


def test_the_client_answering_cancels_the_rest(live, worker):
    tenant, api = live
    configure(tenant, {"followups": {"steps": [{"after_minutes": 30, "text": "Актуально?"}]}})
    number = phone()
    lead_id = api.post("/api/sandbox/messages/", {"phone": number, "text": "Хочу баню"}, format="json").json()[
        "lead_id"]
    deadline = time.monotonic() + WAIT
    while not any(f["status"] == "pending" for f in api.get(f"/api/leads/{lead_id}/followups/").json()):
        assert time.monotonic() < deadline, "no follow-up was planned after the AI's reply"
        time.sleep(0.2)
    assert api.post("/api/sandbox/messages/", {"phone": number, "text": "Да, размеры 6 на 4"},
                    format="json").status_code == 201
    card = api.get(f"/api/leads/{lead_id}/followups/").json()
    assert any(f["status"] == "cancelled" and f["reason"] == "client answered" for f in card)


def test_reengagement_end_to_end_with_engagement_rate(live, worker):
    tenant, api = live
    content = api.post("/api/content/", {"type": "document", "title": "Каталог бань", "url": "https://cdn.kz/c.pdf",
                                         "text": "Наш каталог", "tags": ["баня"]}, format="json")
    assert content.status_code == 201
    configure(tenant, {"followups": {"enabled": False},
                       "reengagement": {"enabled": True, "after_days": 7, "every_days": 14, "window": NO_QUIET}})
    number = phone()
    lead_id = api.post("/api/sandbox/messages/", {"phone": number, "text": "Интересует баня"},
                       format="json").json()["lead_id"]
    wait_for(tenant, api, number, lambda ms: any(m["status"] == "sent" for m in ai_replies(ms)), sweep=False,
             what="the AI's reply")
    with tenant_context(tenant):  # eight days of silence
        Lead.objects.filter(pk=lead_id).update(last_message_at=timezone.now() - timedelta(days=8),
                                               data={"interests": ["баня"]})
    connection.set_schema_to_public()
    beat(tenant, reengage)
    messages = wait_for(tenant, api, number, lambda ms: len(of(ms, "reengagement")) == 2, what="the touch")
    touch_text, touch_content = of(messages, "reengagement")
    assert "Каталог бань" in touch_text["text"] or "каталог" in touch_text["text"].lower()
    assert touch_content["kind"] == "document" and touch_content["media_url"] == "https://cdn.kz/c.pdf"
    with tenant_context(tenant):
        row = FollowUp.objects.get(lead_id=lead_id, kind="reengagement")
        assert (row.status, row.meta["reason"], row.content_id) == ("sent", "content", content.json()["id"])
    connection.set_schema_to_public()
    stats = {s["kind"]: s for s in api.get("/api/followups/engagement/").json()["results"]}
    assert stats["reengagement"] == {"kind": "reengagement", "sent": 1, "answered": 0, "rate": 0.0}
    api.post("/api/sandbox/messages/", {"phone": number, "text": "Да, ещё интересно"}, format="json")
    stats = {s["kind"]: s for s in api.get("/api/followups/engagement/").json()["results"]}
    assert stats["reengagement"] == {"kind": "reengagement", "sent": 1, "answered": 1, "rate": 1.0}
    # Asleep again right away: at most once per K days, so no second touch.
    with tenant_context(tenant):
        Lead.objects.filter(pk=lead_id).update(last_message_at=timezone.now() - timedelta(days=8))
        from followups.services import reengagement_plan
        assert reengagement_plan() == []
    connection.set_schema_to_public()


def test_lead_magnet_chain_end_to_end(live, worker):
    tenant, api = live
    guide = api.post("/api/content/", {"type": "document", "title": "Гайд по фундаменту",
                                       "url": "https://cdn.kz/guide.pdf", "tags": ["фундамент"]}, format="json").json()
    case = api.post("/api/content/", {"type": "image", "title": "Кейс: дом в Алматы", "url": "https://cdn.kz/case.jpg",
                                      "text": "Дом 10×12 за 90 дней"}, format="json").json()
    configure(tenant, {"campaigns": [{
        "code": "ГАЙД", "name": "Гайд по фундаменту", "keywords": ["guide"], "source": "instagram_ads",
        "text": "Держите гайд — бесплатно!", "content_id": guide["id"],
        "steps": [{"after_minutes": 0.02, "text": "Удалось посмотреть гайд?"},
                  {"after_minutes": 0.04, "content_id": case["id"]},
                  {"after_minutes": 0.06, "text": "Готовы обсудить ваш проект?"}]}]})
    number = phone()
    posted = api.post("/api/sandbox/messages/", {"phone": number, "name": "Айгуль", "text": "Хочу гайд"},
                      format="json")
    lead_id = posted.json()["lead_id"]
    # The material goes out at once (queued in the same request), before any sweep.
    messages = wait_for(tenant, api, number, lambda ms: len(of(ms, "onboarding")) >= 2, sweep=False,
                        what="the free material")
    intro, material = of(messages, "onboarding")[:2]
    assert intro["text"] == "Держите гайд — бесплатно!"
    assert material["kind"] == "document" and material["media_url"] == "https://cdn.kz/guide.pdf"
    card = api.get(f"/api/leads/{lead_id}/").json()
    assert (card.get("campaign"), card.get("source")) == ("ГАЙД", "instagram_ads") or \
        (lead_of(tenant, lead_id).campaign, lead_of(tenant, lead_id).source) == ("ГАЙД", "instagram_ads")
    messages = wait_for(tenant, api, number, lambda ms: len(of(ms, "onboarding")) == 5, what="the onboarding chain")
    chain = of(messages, "onboarding")[2:]
    assert [m["kind"] for m in chain] == ["text", "image", "text"]
    assert chain[0]["text"] == "Удалось посмотреть гайд?" and chain[1]["media_url"] == "https://cdn.kz/case.jpg"
    assert chain[0]["sent_at"] < chain[1]["sent_at"] < chain[2]["sent_at"]
    # No ordinary follow-ups ran beside the chain, and nothing is sent twice.
    assert of(messages, "followup", None) == []
    for _ in range(3):
        beat(tenant)
    assert len(of(dialog(api, number), "onboarding", None)) == 5
    # Afterwards the normal AI dialog continues.
    api.post("/api/sandbox/messages/", {"phone": number, "text": "Да, посмотрела. Дом 8 на 10, Алматы"}, format="json")
    wait_for(tenant, api, number, lambda ms: any(m["status"] == "sent" and m["author_kind"] == "ai" and
                                                 m["purpose"] not in ("onboarding", "followup")
                                                 and m["id"] > chain[-1]["id"] for m in ms),
             sweep=False, what="the AI's reply after the chain")
