"""End to end with a real Celery worker and committed data: an amoCRM webhook → the lead is read back
from the amoCRM stand-in and greeted through the sandbox channel → the client answers through
POST /api/sandbox/messages/ → the AI manager (tenant brain `openai` against a scripted OpenAI-compatible
stand-in) checks the calendar and books a meeting in the Google stand-in → amoCRM gets the note."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from datetime import date, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.conf import settings
from django.test import Client
from django.utils import timezone
from django_tenants.utils import tenant_context

from tenants.services import tenant_config_import
from tests.aiagent.openai_standin import OpenAIStandin
from tests.conftest import webhook_path
from tests.integrations.gstandin import AmoStandin, GoogleStandin

pytestmark = pytest.mark.live

TZ = "Asia/Almaty"
ACCOUNT = 30000077
PHONE = "77011112233"
EMAIL = "aigul@stroydom.kz"


class ScriptedModel:
    """Rules for the OpenAI-compatible stand-in (tests/aiagent/openai_standin.py) playing a sales manager:
    a question about a meeting → check_availability for `day`; an e-mail in the message → book_meeting at
    the first offered slot; a tool result → a final text built from it; anything else → a short answer."""

    def __init__(self, day: date) -> None:
        self.day = day
        self.offered: list[str] = []
        self.standin = OpenAIStandin(default=self.answer)
        self.standin.__enter__()
        self.url = self.standin.url

    def stop(self) -> None:
        self.standin.__exit__(None, None, None)

    def answer(self, body: dict) -> dict:
        llm = self.standin
        messages = body.get("messages") or []
        last = messages[-1] if messages else {}
        if last.get("role") == "tool":
            result = json.loads(last.get("content") or "{}")
            if "slots" in result and result.get("ok"):
                self.offered = list(result["slots"])
                return llm.text(f"Могу предложить {result['text']}. Какое время вам удобно?")
            if result.get("ok") and result.get("event_id"):
                return llm.text(result["text"])
            return llm.text(f"Извините, это время уже занято. {result.get('alternatives') or ''}".strip())
        user = next((m.get("content") or "" for m in reversed(messages) if m.get("role") == "user"), "")
        if "@" in user and self.offered:
            return llm.tool_calls(("book_meeting", {"start": self.offered[0], "email": EMAIL,
                                                    "summary": "Встреча по проекту дома"}))
        if "встреч" in user.lower():
            return llm.tool_calls(("check_availability", {"date_from": self.day.isoformat(),
                                                          "date_to": self.day.isoformat()}))
        return llm.text("Понял вас. Расскажите, пожалуйста, подробнее.")


def next_workday() -> date:
    day = timezone.now().astimezone(ZoneInfo(TZ)).date() + timedelta(days=1)
    while day.isoweekday() > 5:
        day += timedelta(days=1)
    return day


@pytest.fixture
def outside() -> Iterator[tuple[AmoStandin, GoogleStandin, ScriptedModel]]:
    amo, google, model = AmoStandin().start(), GoogleStandin().start(), ScriptedModel(next_workday())
    amo.leads[5101] = {
        "id": 5101, "name": "Заявка с сайта", "status_id": 142, "pipeline_id": 77,
        "custom_fields_values": [{"field_id": 1, "field_name": "Информация", "field_type": "textarea",
                                  "values": [{"value": "Компания СтройДом, 12 сотрудников, CRM нет"}]}],
        "_embedded": {"contacts": [{"id": 602, "is_main": True}]},
    }
    amo.contacts[602] = {"id": 602, "name": "Айгуль", "custom_fields_values": [
        {"field_code": "PHONE", "values": [{"value": "+7 701 111 22 33"}]}]}
    yield amo, google, model
    for server in (amo, google, model):
        server.stop()


def wait_for(what: str, check, timeout: float = 40.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def test_amocrm_lead_is_greeted_answers_and_gets_a_meeting_booked(live_tenant, worker, outside, client_for):
    amo, google, model = outside
    tenant_config_import(live_tenant, {
        "timezone": TZ,
        "company": "ПанельСтрой",
        "outbound_channel": "sandbox",
        "ai": {"enabled": True, "provider": "openai", "base_url": model.url, "api_key": "sk-test",
               "model": "scripted", "debounce_seconds": 0.2, "max_retries": 0},
        "followups": {"enabled": False},
        "amocrm": {"base_url": amo.url, "account_id": ACCOUNT, "access_token": amo.access_token,
                   "info_field": "Информация", "stage_map": {}, "responsible_map": {}},
        "google_calendar": {"api_url": f"{google.url}/", "token_uri": f"{google.url}/token",
                            "calendar_id": "primary", "client_id": google.client_id,
                            "client_secret": google.client_secret, "refresh_token": "g-refresh-ok",
                            "meeting_minutes": 30, "working_hours": {"start": "10:00", "end": "19:00"}},
    })
    live_tenant.refresh_from_db()
    owner = client_for(live_tenant, "owner")

    def sandbox_out() -> list[dict]:
        response = owner.get(f"/api/sandbox/messages/?phone={PHONE}")
        assert response.status_code == 200
        return [m for m in response.json() if m["direction"] == "out" and m["status"] == "sent"]

    # 1. amoCRM calls our webhook; we answer at once.
    hook = Client(HTTP_HOST=settings.PUBLIC_DOMAIN).post(
        webhook_path(live_tenant, "amocrm"),
        data=f"leads[add][0][id]=5101&leads[add][0][status_id]=142&account[subdomain]=buildco&account[id]={ACCOUNT}",
        content_type="application/x-www-form-urlencoded")
    assert hook.status_code == 200

    # 2. The worker reads the lead back and the greeting goes out through the sandbox channel.
    greeting = wait_for("the greeting", sandbox_out)
    assert [(r.method, r.raw_path) for r in amo.requests[:2]] == [
        ("GET", "/api/v4/leads/5101?with=contacts"), ("GET", "/api/v4/contacts/602")]
    from leads.models import Lead

    with tenant_context(live_tenant):
        lead = Lead.objects.get(external_id="5101")
        assert (lead.phone, lead.name, lead.source, lead.provider) == (PHONE, "Айгуль", "amocrm", "sandbox")
        assert lead.source_info == "Заявка с сайта\nКомпания СтройДом, 12 сотрудников, CRM нет"

    # 3. The client answers in the sandbox; the AI checks the calendar and offers slots in words.
    asked = owner.post("/api/sandbox/messages/", {"phone": PHONE, "name": "Айгуль",
                                                  "text": "Здравствуйте! Давайте назначим встречу, когда можно?"},
                       format="json")
    assert asked.status_code == 201 and asked.json()["lead_id"] == lead.pk
    offer = wait_for("the offer of slots",
                     lambda: [m for m in sandbox_out()[len(greeting):] if "Могу предложить" in m["text"]])
    assert model.offered and "10:00" in offer[0]["text"]
    tools = {t["function"]["name"] for t in model.standin.requests[0]["tools"]}
    assert {"check_availability", "book_meeting"} <= tools
    freebusy = [r for r in google.requests if r.path == "/calendar/v3/freeBusy"]
    assert freebusy and freebusy[0].json()["timeZone"] == TZ

    # 4. The client picks the time and gives an e-mail; the meeting is booked in Google with Meet.
    before = len(sandbox_out())
    picked = owner.post("/api/sandbox/messages/", {"phone": PHONE, "name": "Айгуль",
                                                   "text": f"Подходит первое время, почта {EMAIL}"}, format="json")
    assert picked.status_code == 201
    confirmation = wait_for("the booking confirmation",
                            lambda: [m for m in sandbox_out()[before:] if "встреча назначена" in m["text"]])
    (event,) = google.events.values()
    assert event["attendees"] == [{"email": EMAIL}]
    assert event["start"]["dateTime"] == model.offered[0]
    assert event["hangoutLink"] in confirmation[0]["text"]
    insert = next(r for r in google.requests if r.path.endswith("/events") and r.method == "POST")
    assert insert.query["sendUpdates"] == ["all"] and insert.query["conferenceDataVersion"] == ["1"]

    # 5. The timeline keeps the event; amoCRM gets the meeting note.
    from leads.models import LeadEvent

    with tenant_context(live_tenant):
        booked = LeadEvent.objects.filter(lead_id=lead.pk, kind="meeting_booked").first()
        assert booked is not None and booked.after["event_id"] == event["id"]
    note = wait_for("the amoCRM note", lambda: [n for n in amo.notes if n["entity_id"] == 5101
                                                 and "Назначена встреча" in n["params"]["text"]])
    assert event["hangoutLink"] in note[0]["params"]["text"]
