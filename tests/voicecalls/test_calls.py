"""AI voice calls through Retell, end to end against a stand-in Retell API: the call a lead asks for (with its
context), Retell's signed webhooks through the real view (timeline, card fields, a missed call becoming a follow-up),
duplicates once, every hostile input, and tenants apart."""

from __future__ import annotations

import json

import pytest
from django.test import Client
from django_tenants.utils import tenant_context

from conversations.models import InboundEvent, Message
from followups.models import FollowUp
from followups.services import followups_sweep
from integrations import retell
from leads.models import Lead, LeadEvent
from tenants.services import tenant_config_import
from tests.conftest import webhook_path
from tests.leads.conftest import make_lead
from voicecalls import services
from voicecalls.services import CallRetry, call_place, call_queue

pytestmark = pytest.mark.django_db

API_KEY = "key_alpha_retell"
AGENT = "oBeDLoLOeuAbiuaMFXRtDOLriTJ5tSxD"


def configure(tenant, api_url: str = "https://api.retell.example", **overrides) -> None:
    section = {
        "api_url": api_url,
        "api_key": API_KEY,
        "agent_id": AGENT,
        "from_number": "+77270000000",
        "enabled": True,
        **overrides,
    }
    tenant_config_import(tenant, {"voice_calls": {"retell": section}})


@pytest.fixture
def web():
    return Client(HTTP_HOST="localhost")


def lead_with_phone(tenant, **fields) -> Lead:
    return make_lead(
        tenant,
        phone="77011112233",
        name="Ерлан",
        city="",
        provider="sandbox",
        channel="sandbox",
        preferred_time="после 18:00",
        data={"windows": 4},
        **fields,
    )


def placed(tenant, lead: Lead, call_id: str = "call_1") -> None:
    """A call we placed for the lead (what call_place writes once Retell accepted it)."""
    from leads import services as lead_services

    with tenant_context(tenant):
        lead_services.event_add(
            lead=lead, actor=lead_services.AI, kind="call_placed", after={"call_id": call_id, "to": lead.phone}
        )


def hook(web, tenant, event: str, *, call_id: str = "call_1", lead_id: int, key: str = API_KEY, body=None, **call):
    payload = {
        "event": event,
        "call": {
            "call_id": call_id,
            "call_status": "ended",
            "metadata": {"lead_id": lead_id},
            "agent_id": AGENT,
            "direction": "outbound",
            **call,
        },
    }
    body = body if body is not None else json.dumps(payload).encode()
    return web.generic(
        "POST",
        webhook_path(tenant, "retell"),
        body,
        content_type="application/json",
        HTTP_X_RETELL_SIGNATURE=retell.sign(body, key),
    )


def timeline(tenant, lead: Lead) -> list[str]:
    with tenant_context(tenant):
        return list(
            LeadEvent.objects.filter(lead=lead, kind__startswith="call_").order_by("id").values_list("kind", flat=True)
        )


# --- placing the call -----------------------------------------------------------------------------------------


def test_the_call_request_is_queued_only_when_enabled_and_with_a_phone(tenant_a):
    """What the `lead.call_requested` listener does (its wiring: tests/core/test_events.py)."""
    lead = lead_with_phone(tenant_a)
    no_phone = make_lead(tenant_a, name="Без телефона")
    with tenant_context(tenant_a):
        assert call_queue(lead_id=lead.pk) is False  # not configured
    configure(tenant_a, enabled=False)
    with tenant_context(tenant_a):
        assert call_queue(lead_id=lead.pk) is False
    configure(tenant_a)
    with tenant_context(tenant_a):
        assert call_queue(lead_id=no_phone.pk) is False
        assert call_queue(lead_id=lead.pk) is True


def test_the_contracts_section_without_enabled_places_calls(tenant_a):
    """CONTRACT.md's `voice_calls.retell` has no `enabled` key: a tenant configured by it gets its calls."""
    lead = lead_with_phone(tenant_a)
    section = {"api_url": "https://api.retell.example", "api_key": API_KEY, "agent_id": AGENT,
               "from_number": "+77270000000"}
    tenant_config_import(tenant_a, {"voice_calls": {"retell": section}})
    with tenant_context(tenant_a):
        assert call_queue(lead_id=lead.pk) is True


def test_the_call_goes_out_with_the_leads_context_once(tenant_a, standin):
    configure(tenant_a, api_url=standin.url)
    standin.reply(201, {"call_id": "call_abc", "call_status": "registered"})
    lead = lead_with_phone(tenant_a)
    with tenant_context(tenant_a):
        assert call_place(lead_id=lead.pk) == "placed"
        assert call_place(lead_id=lead.pk) == "skipped"  # a duplicate task or request: one call
        event = LeadEvent.objects.get(lead=lead, kind="call_placed")
        assert event.after == {"call_id": "call_abc", "to": "77011112233"}
    [request] = standin.requests
    assert (request.path, request.headers["authorization"]) == ("/v2/create-phone-call", f"Bearer {API_KEY}")
    body = request.json
    assert (body["from_number"], body["to_number"], body["override_agent_id"], body["metadata"]) == (
        "+77270000000",
        "+77011112233",
        AGENT,
        {"lead_id": lead.pk},
    )
    variables = body["retell_llm_dynamic_variables"]
    assert variables["name"] == "Ерлан" and variables["preferred_time"] == "после 18:00"
    assert "4" in variables["known"] and all(isinstance(v, str) for v in variables.values())


def test_retell_down_is_retried_then_written_on_the_timeline(tenant_a, standin):
    configure(tenant_a, api_url=standin.url)
    lead = lead_with_phone(tenant_a)
    standin.reply(503, body=b"down").reply(503, body=b"down")
    with tenant_context(tenant_a):
        with pytest.raises(CallRetry):
            call_place(lead_id=lead.pk)
        assert call_place(lead_id=lead.pk, final=True) == "failed"
    assert timeline(tenant_a, lead) == ["call_failed"]


# --- Retell's webhooks ----------------------------------------------------------------------------------------


def test_a_call_onto_the_timeline_and_the_card(web, tenant_a):
    configure(tenant_a)
    lead = lead_with_phone(tenant_a)
    placed(tenant_a, lead)
    assert hook(web, tenant_a, "call_started", lead_id=lead.pk, call_status="ongoing").status_code == 200
    transcript = "Agent: Здравствуйте, это Алия.\nUser: Да, хочу дом в Алматы, 6 окон."
    assert (
        hook(
            web,
            tenant_a,
            "call_ended",
            lead_id=lead.pk,
            transcript=transcript,
            disconnection_reason="user_hangup",
            duration_ms=61000,
        ).status_code
        == 200
    )
    analysis = {
        "call_summary": "Клиент хочет дом в Алматы, 6 окон, проект есть.",
        "in_voicemail": False,
        "custom_analysis_data": {"city": "Алматы", "windows": 6, "has_project": True, "not_a_field": "x"},
    }
    assert (
        hook(web, tenant_a, "call_analyzed", lead_id=lead.pk, transcript=transcript, call_analysis=analysis).status_code
        == 200
    )
    # Retell retries: applied once
    assert (
        hook(web, tenant_a, "call_analyzed", lead_id=lead.pk, transcript=transcript, call_analysis=analysis).json()[
            "duplicate"
        ]
        is True
    )
    assert timeline(tenant_a, lead) == ["call_placed", "call_started", "call_ended", "call_summary"]
    with tenant_context(tenant_a):
        summary = LeadEvent.objects.get(lead=lead, kind="call_summary")
        assert summary.text.startswith("Клиент хочет дом") and transcript in summary.text
        assert LeadEvent.objects.get(lead=lead, kind="call_ended").text == transcript
        fresh = Lead.objects.get(pk=lead.pk)
        assert fresh.data["windows"] == 6 and fresh.data["has_project"] is True and fresh.data["city"] == "Алматы"
        assert "not_a_field" not in fresh.data and fresh.city == "Алматы"
        assert InboundEvent.objects.filter(provider="retell").count() == 3
        assert not FollowUp.objects.filter(lead=lead).exists()


@pytest.mark.parametrize("reason", ["dial_no_answer", "voicemail_reached"])
def test_a_missed_call_becomes_a_follow_up_in_the_chat(web, tenant_a, reason):
    configure(tenant_a)
    tenant_config_import(tenant_a, {"followups": {"quiet_hours": {"start": "00:00", "end": "00:00"}}})
    lead = lead_with_phone(tenant_a)
    with tenant_context(tenant_a):
        Lead.objects.filter(pk=lead.pk).update(waiting_since=lead.created_at)  # our last message waits for them
    placed(tenant_a, lead)
    assert (
        hook(
            web, tenant_a, "call_ended", lead_id=lead.pk, call_status="not_connected", disconnection_reason=reason
        ).status_code
        == 200
    )
    assert (
        hook(
            web,
            tenant_a,
            "call_analyzed",
            lead_id=lead.pk,
            disconnection_reason=reason,
            call_analysis={"in_voicemail": reason == "voicemail_reached"},
        ).status_code
        == 200
    )
    assert timeline(tenant_a, lead) == ["call_placed", "call_missed", "call_summary"]
    with tenant_context(tenant_a):
        [touch] = FollowUp.objects.filter(lead=lead)  # once per call
        assert touch.meta == {"missed_call": "call_1"} and "дозвониться" in touch.text
        followups_sweep()
        touch.refresh_from_db()
        assert touch.status == "sent"
        assert Message.objects.get(lead=lead, purpose="followup").text


def test_hostile_inputs(web, tenant_a, tenant_b):
    lead = lead_with_phone(tenant_a)
    assert hook(web, tenant_a, "call_started", lead_id=lead.pk).status_code == 404  # not configured
    configure(tenant_a)
    placed(tenant_a, lead)
    assert hook(web, tenant_a, "call_started", lead_id=lead.pk, key="another-key").status_code == 403
    body = json.dumps({"event": "call_started", "call": {"call_id": "c"}}).encode()
    unsigned = web.generic("POST", webhook_path(tenant_a, "retell"), body, content_type="application/json")
    assert unsigned.status_code == 403
    assert hook(web, tenant_a, "x", lead_id=lead.pk, body=b"{broken").status_code == 400
    assert hook(web, tenant_a, "x", lead_id=lead.pk, body=b'{"event": 5}').status_code == 400
    assert hook(web, tenant_a, "x", lead_id=lead.pk, body=b"{" + b" " * (1024 * 1024) + b"}").status_code == 413
    assert web.post("/webhooks/retell/not-a-token/", b"{}", content_type="application/json").status_code == 404
    assert web.get(webhook_path(tenant_a, "retell")).status_code == 404  # no handshake: GET opens nothing
    # a call we never placed (or of another lead) is recorded and ignored
    other = lead_with_phone(tenant_a)
    assert hook(web, tenant_a, "call_ended", lead_id=other.pk, transcript="x").status_code == 200
    assert hook(web, tenant_a, "call_ended", call_id="call_zzz", lead_id=lead.pk, transcript="x").status_code == 200
    assert timeline(tenant_a, other) == [] and timeline(tenant_a, lead) == ["call_placed"]
    # tenant B's Retell account cannot write onto tenant A's lead (same lead id in B's schema is B's own)
    configure(tenant_b)
    assert (
        hook(
            web, tenant_b, "call_analyzed", lead_id=lead.pk, call_analysis={"custom_analysis_data": {"windows": 99}}
        ).status_code
        == 200
    )
    with tenant_context(tenant_a):
        assert Lead.objects.get(pk=lead.pk).data == {"windows": 4}


def test_disabled_calls_still_take_their_webhooks(web, tenant_a, monkeypatch):
    """Switching calls off stops new calls, not the events of calls already made."""
    configure(tenant_a, enabled=False)
    lead = lead_with_phone(tenant_a)
    placed(tenant_a, lead)
    assert hook(web, tenant_a, "call_started", lead_id=lead.pk).status_code == 200
    assert timeline(tenant_a, lead) == ["call_placed", "call_started"]
    with tenant_context(tenant_a):
        assert services.call_place(lead_id=lead.pk) == "skipped"
