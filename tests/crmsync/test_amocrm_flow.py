"""amoCRM intake and write-back through the real webhook view, services and tasks, against the amoCRM
stand-in (exact requests asserted). Tasks run eagerly in the test's transaction; the worker-backed run is
in test_amocrm_e2e.py."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest
from django.conf import settings
from django.db import connection
from django.test import Client
from django_tenants.utils import tenant_context

from conversations.models import InboundEvent, Message
from crmsync import services as amocrm_sync
from crmsync.intake import NO_PHONE_REASON, amocrm_intake_process
from crmsync.models import AmoLeadLink
from crmsync.tasks import amocrm_intake_task, amocrm_write_back_task
from leads import services as lead_services
from leads.models import Lead, LeadEvent
from tenants.models import Tenant, TenantHealth
from tenants.services import tenant_config_get, tenant_config_import
from tests.conftest import user_of, webhook_path
from tests.integrations.gstandin import AmoStandin
from tests.integrations.standin import Scripted, StandIn

ACCOUNT = 30000001
AMO_LEAD = {
    "id": 4101,
    "name": "Заявка с сайта",
    "status_id": 142,
    "pipeline_id": 77,
    "custom_fields_values": [
        {"field_id": 1, "field_name": "Информация", "field_code": None, "field_type": "textarea",
         "values": [{"value": "Компания СтройДом, 12 сотрудников, CRM нет, нужен дом 10x12"}]},
        {"field_id": 2, "field_name": "Город", "field_code": None, "field_type": "text",
         "values": [{"value": "Алматы"}]},
    ],
    "_embedded": {"contacts": [{"id": 501, "is_main": False}, {"id": 502, "is_main": True}]},
}
CONTACT = {
    "id": 502,
    "name": "Айгуль",
    "custom_fields_values": [
        {"field_id": 10, "field_name": "Телефон", "field_code": "PHONE", "field_type": "multitext",
         "values": [{"value": "8 (701) 111-22-33", "enum_code": "WORK"}]},
    ],
}
SOURCE_INFO = "Заявка с сайта\nКомпания СтройДом, 12 сотрудников, CRM нет, нужен дом 10x12"


def add_body(lead_id: int = 4101, account: int = ACCOUNT) -> str:
    return (f"leads%5Badd%5D%5B0%5D%5Bid%5D={lead_id}&leads%5Badd%5D%5B0%5D%5Bstatus_id%5D=142"
            f"&leads%5Badd%5D%5B0%5D%5Bpipeline_id%5D=77&account%5Bsubdomain%5D=buildco&account%5Bid%5D={account}")


def status_body(lead_id: int = 4101, status_id: int = 143, account: int = ACCOUNT) -> str:
    return (f"leads[status][0][id]={lead_id}&leads[status][0][status_id]={status_id}"
            f"&leads[status][0][old_status_id]=142&account[subdomain]=buildco&account[id]={account}")


def post_webhook(tenant, body: str | bytes, *, method: str = "post"):
    client = Client(HTTP_HOST=settings.PUBLIC_DOMAIN)
    url = webhook_path(tenant, "amocrm")
    if method == "get":
        return client.get(url)
    return client.post(url, data=body, content_type="application/x-www-form-urlencoded")


def amo_settings(amo: AmoStandin, **extra) -> dict:
    section = {"base_url": amo.url, "account_id": ACCOUNT, "access_token": amo.access_token,
               "info_field": "Информация", "pipeline_id": 77,
               "stage_map": {"complete": 143, "won": {"status_id": 142, "pipeline_id": 77}, "lost": 143},
               "responsible_map": {}}
    section.update(extra)
    return section


def fill_amo(amo: AmoStandin) -> None:
    amo.leads[4101] = dict(AMO_LEAD)
    amo.contacts[502] = CONTACT
    amo.contacts[501] = {"id": 501, "name": "Бухгалтерия", "custom_fields_values": None}


@pytest.fixture
def amo() -> Iterator[AmoStandin]:
    server = AmoStandin().start()
    fill_amo(server)
    yield server
    server.stop()


@pytest.fixture
def eager(settings):
    """Celery tasks run in-process at .delay() (same connection and transaction as the test)."""
    from buildcrm.celery import app

    settings.AMOCRM_BACKOFF_SECONDS = 0.001
    settings.AMOCRM_TASK_RETRY_SECONDS = 0.001
    old = app.conf.task_always_eager, app.conf.task_eager_propagates
    app.conf.task_always_eager, app.conf.task_eager_propagates = True, True
    yield app
    app.conf.task_always_eager, app.conf.task_eager_propagates = old


@pytest.fixture
def alpha(tenant_a, amo, eager):
    tenant_config_import(tenant_a, {"amocrm": amo_settings(amo), "outbound_channel": "sandbox"})
    tenant_a.refresh_from_db()
    return tenant_a


def amo_requests(amo: AmoStandin) -> list[tuple[str, str]]:
    return [(r.method, r.raw_path) for r in amo.requests]


def process(tenant, event_id: int, django_capture_on_commit_callbacks) -> str:
    """What the intake task does in a worker, callbacks after commit included (the first contact)."""
    with tenant_context(tenant), django_capture_on_commit_callbacks(execute=True):
        # throw=False: a task retry (Retry) is run again in place instead of raised; .get() still
        # re-raises any real error.
        return amocrm_intake_task.apply(args=[event_id], throw=False).get()


def stored_events(tenant) -> list[InboundEvent]:
    with tenant_context(tenant):
        return list(InboundEvent.objects.filter(provider="amocrm").order_by("id"))


def health(tenant) -> TenantHealth:
    return TenantHealth.objects.get(tenant=tenant)


# --- webhook ---------------------------------------------------------------------------------------


def test_webhook_is_stored_and_acknowledged_before_any_amocrm_call(alpha, amo, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks() as callbacks:
        response = post_webhook(alpha, add_body())
    assert response.status_code == 200
    assert response.json() == {"ok": True, "queued": 1}
    (event,) = stored_events(alpha)
    assert event.event_id == f"{ACCOUNT}:4101:add"
    assert event.payload["lead_id"] == 4101 and event.payload["account_id"] == ACCOUNT
    assert event.payload["form"]["leads[add][0][id]"] == ["4101"]
    assert event.processed_at is None
    assert len(callbacks) == 1  # the intake task, enqueued once the event is committed
    assert amo.requests == []  # nothing is read from amoCRM inside the webhook
    assert health(alpha).last_inbound_provider == "amocrm"


def test_intake_reads_lead_and_main_contact_creates_lead_and_greets_in_sandbox(
        alpha, amo, django_capture_on_commit_callbacks):
    post_webhook(alpha, add_body())
    (event,) = stored_events(alpha)
    assert process(alpha, event.pk, django_capture_on_commit_callbacks) == "created"
    assert amo_requests(amo) == [("GET", "/api/v4/leads/4101?with=contacts"), ("GET", "/api/v4/contacts/502")]
    assert all(r.headers["authorization"] == f"Bearer {amo.access_token}" for r in amo.requests)
    with tenant_context(alpha):
        lead = Lead.objects.get()
        assert (lead.phone, lead.name, lead.source, lead.channel, lead.provider, lead.external_id) == (
            "77011112233", "Айгуль", "amocrm", "sandbox", "sandbox", "4101")
        assert lead.source_info == SOURCE_INFO
        assert AmoLeadLink.objects.get().amo_lead_id == 4101
        greeting = list(Message.objects.filter(lead=lead, direction="out"))
        assert greeting, "the first contact went out"
        assert {m.provider for m in greeting} == {"sandbox"}
        assert {m.status for m in greeting} == {"sent"}
        event.refresh_from_db()
        assert event.processed_at is not None and event.error == ""


def test_intake_greets_over_chatflow_when_that_is_the_outbound_channel(
        alpha, amo, django_capture_on_commit_callbacks):
    chatflow = StandIn()
    chatflow.default = Scripted(json={"success": True, "messageId": "CF-1"})
    try:
        tenant_config_import(alpha, {"outbound_channel": "chatflow", "channels": {"chatflow": {
            "api_url": chatflow.url, "token": "cf-token", "instance_id": "inst-1"}}})
        alpha.refresh_from_db()
        post_webhook(alpha, add_body())
        (event,) = stored_events(alpha)
        assert process(alpha, event.pk, django_capture_on_commit_callbacks) == "created"
        with tenant_context(alpha):
            lead = Lead.objects.get()
            assert (lead.channel, lead.provider) == ("whatsapp", "chatflow")
            sent = list(Message.objects.filter(lead=lead, direction="out"))
            assert sent and {m.status for m in sent} == {"sent"}
        first = chatflow.requests[0]
        assert first.method == "GET" and first.path.endswith("/send-text")
        assert first.query["jid"] == "77011112233@s.whatsapp.net"
        assert first.query["token"] == "cf-token" and first.query["instance_id"] == "inst-1"
        assert first.query["msg"] == sent[0].text
    finally:
        chatflow.close()


def test_same_amocrm_lead_twice_gives_one_lead_and_one_greeting(alpha, amo, django_capture_on_commit_callbacks):
    for body in (add_body(), add_body(), status_body()):
        assert post_webhook(alpha, body).status_code == 200
    events = stored_events(alpha)
    assert [e.event_id for e in events] == [f"{ACCOUNT}:4101:add", f"{ACCOUNT}:4101:status:143"]
    outcomes = [process(alpha, e.pk, django_capture_on_commit_callbacks) for e in events]
    outcomes.append(process(alpha, events[0].pk, django_capture_on_commit_callbacks))  # redelivered task
    assert outcomes == ["created", "known", "skipped"]
    with tenant_context(alpha):
        assert Lead.objects.count() == 1
        lead = Lead.objects.get()
        greetings = Message.objects.filter(lead=lead, direction="out").count()
    assert greetings >= 1
    # Only the first event read amoCRM.
    assert amo_requests(amo) == [("GET", "/api/v4/leads/4101?with=contacts"), ("GET", "/api/v4/contacts/502")]
    # One greeting chain: a later duplicate adds no message.
    post_webhook(alpha, add_body())
    with tenant_context(alpha):
        assert Message.objects.filter(lead=lead, direction="out").count() == greetings


def test_webhook_of_another_account_is_recorded_and_ignored(alpha, amo, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks() as callbacks:
        response = post_webhook(alpha, add_body(account=99999))
    assert response.status_code == 200
    assert response.json()["ignored"] == 1
    (event,) = stored_events(alpha)
    assert event.processed_at is not None and "99999" in event.error
    assert callbacks == [] and amo.requests == []
    with tenant_context(alpha):
        assert Lead.objects.count() == 0


def test_lead_amocrm_does_not_have_is_recorded_and_ignored(alpha, amo, django_capture_on_commit_callbacks):
    post_webhook(alpha, add_body(lead_id=777))
    (event,) = stored_events(alpha)
    assert process(alpha, event.pk, django_capture_on_commit_callbacks) == "missing"
    assert amo_requests(amo) == [("GET", "/api/v4/leads/777?with=contacts")]
    (event,) = stored_events(alpha)
    assert event.processed_at is not None and "does not exist" in event.error
    with tenant_context(alpha):
        assert Lead.objects.count() == 0


def test_contact_without_phone_creates_flagged_lead_and_sends_nothing(
        alpha, amo, django_capture_on_commit_callbacks):
    amo.contacts[502] = {"id": 502, "name": "Айгуль", "custom_fields_values": [
        {"field_code": "EMAIL", "values": [{"value": "a@stroydom.kz"}]}]}
    post_webhook(alpha, add_body())
    (event,) = stored_events(alpha)
    assert process(alpha, event.pk, django_capture_on_commit_callbacks) == "created"
    # Both contacts were tried for a phone, the main one first.
    assert amo_requests(amo) == [("GET", "/api/v4/leads/4101?with=contacts"), ("GET", "/api/v4/contacts/502"),
                                 ("GET", "/api/v4/contacts/501")]
    with tenant_context(alpha):
        lead = Lead.objects.get()
        assert lead.phone == "" and lead.name == "Айгуль" and lead.source_info == SOURCE_INFO
        assert lead.needs_human is True and lead.needs_human_reason == NO_PHONE_REASON
        assert Message.objects.count() == 0


def test_known_phone_is_linked_without_a_second_greeting(alpha, amo, django_capture_on_commit_callbacks):
    with tenant_context(alpha):
        existing, _ = lead_services.lead_for_inbound(provider="sandbox", identity="77011112233",
                                                     phone="77011112233", name="Айгуль")
    post_webhook(alpha, add_body())
    (event,) = stored_events(alpha)
    assert process(alpha, event.pk, django_capture_on_commit_callbacks) == "linked"
    with tenant_context(alpha):
        assert Lead.objects.count() == 1
        lead = Lead.objects.get()
        assert lead.pk == existing.pk and lead.external_id == "4101" and lead.source_info == SOURCE_INFO
        assert AmoLeadLink.objects.get().lead_id == lead.pk
        assert Message.objects.count() == 0
        assert LeadEvent.objects.filter(lead=lead, kind="amocrm_linked").exists()


@pytest.mark.parametrize("body", [
    "leads[add][0][id]=5",
    "{\"leads\": 1}",
    "",
])
def test_malformed_webhook_is_400_and_stores_nothing(alpha, amo, body):
    response = post_webhook(alpha, body)
    assert response.status_code == 400
    assert response.json()["detail"]
    assert stored_events(alpha) == []
    assert amo.requests == []


def test_unknown_key_is_404_and_get_is_405(alpha, amo):
    client = Client(HTTP_HOST=settings.PUBLIC_DOMAIN)
    assert client.post("/webhooks/amocrm/not-a-key/", data=add_body(),
                       content_type="application/x-www-form-urlencoded").status_code == 404
    assert post_webhook(alpha, "", method="get").status_code == 405


def test_webhook_touches_only_its_own_tenant(alpha, tenant_b, amo, django_capture_on_commit_callbacks):
    tenant_config_import(tenant_b, {"amocrm": amo_settings(amo, account_id=ACCOUNT + 1)})
    tenant_b.refresh_from_db()
    # Alpha's account id sent to beta's URL: beta records and ignores it, alpha gets nothing.
    assert post_webhook(tenant_b, add_body()).json()["ignored"] == 1
    assert stored_events(alpha) == []
    assert len(stored_events(tenant_b)) == 1
    with tenant_context(tenant_b):
        assert Lead.objects.count() == 0


def test_amocrm_refusing_the_token_is_a_health_error(alpha, amo, django_capture_on_commit_callbacks):
    tenant_config_import(alpha, {"amocrm": {"access_token": "revoked"}})
    post_webhook(alpha, add_body())
    (event,) = stored_events(alpha)
    assert process(alpha, event.pk, django_capture_on_commit_callbacks) == "failed"
    assert "401" in health(alpha).last_error and health(alpha).last_error_source == "amocrm"
    (event,) = stored_events(alpha)
    assert event.processed_at is not None and "401" in event.error


def test_amocrm_down_is_retried_by_the_task_then_recorded(alpha, amo, django_capture_on_commit_callbacks, settings,
                                                          eager):
    settings.AMOCRM_MAX_RETRIES = 1
    eager.conf.task_eager_propagates = False  # eager retries run in place instead of raising Retry
    amo.script(503, {"detail": "maintenance"}, times=100)
    post_webhook(alpha, add_body())
    (event,) = stored_events(alpha)
    assert process(alpha, event.pk, django_capture_on_commit_callbacks) == "failed"
    # 6 task runs (1 + 5 retries) × 2 client attempts each.
    assert len(amo.requests) == 12
    assert "503" in health(alpha).last_error
    (event,) = stored_events(alpha)
    assert event.processed_at is None and "503" in event.error  # left for a later replay


def test_amocrm_busy_once_then_intake_succeeds(alpha, amo, django_capture_on_commit_callbacks):
    amo.script(429, {"title": "Too Many Requests"}, path=r"/api/v4/leads/4101")
    post_webhook(alpha, add_body())
    (event,) = stored_events(alpha)
    assert process(alpha, event.pk, django_capture_on_commit_callbacks) == "created"
    assert amo_requests(amo)[:2] == [("GET", "/api/v4/leads/4101?with=contacts")] * 2


# --- write-back ------------------------------------------------------------------------------------


@pytest.fixture
def linked(alpha, amo, django_capture_on_commit_callbacks):
    """An amoCRM lead taken in (greeting included); the amoCRM requests of the intake are cleared."""
    post_webhook(alpha, add_body())
    (event,) = stored_events(alpha)
    process(alpha, event.pk, django_capture_on_commit_callbacks)
    amo.clear()
    with tenant_context(alpha):
        return Lead.objects.select_related("stage").get()


def test_stage_change_patches_the_mapped_status(alpha, amo, linked, django_capture_on_commit_callbacks):
    with tenant_context(alpha), django_capture_on_commit_callbacks(execute=True):
        lead_services.lead_move(lead=linked, stage=lead_services.stage_of_kind("complete"), actor=lead_services.AI)
    (patch,) = [r for r in amo.requests if r.method == "PATCH"]
    assert patch.raw_path == "/api/v4/leads/4101"
    assert patch.json() == {"status_id": 143, "pipeline_id": 77}
    assert patch.headers["authorization"] == f"Bearer {amo.access_token}"
    assert amo.leads[4101]["status_id"] == 143


def test_stage_map_by_stage_id_and_with_pipeline(alpha, amo, linked, django_capture_on_commit_callbacks):
    with tenant_context(alpha):
        stage = lead_services.stage_of_kind("requests_call")
    tenant_config_import(alpha, {"amocrm": {"stage_map": {str(stage.pk): {"status_id": 150, "pipeline_id": 78}}}})
    with tenant_context(alpha), django_capture_on_commit_callbacks(execute=True):
        lead_services.lead_move(lead=linked, stage=stage, actor=lead_services.AI)
    assert [(r.method, r.json()) for r in amo.requests] == [("PATCH", {"status_id": 150, "pipeline_id": 78})]


def test_unmapped_stage_sends_nothing(alpha, amo, linked, django_capture_on_commit_callbacks):
    with tenant_context(alpha), django_capture_on_commit_callbacks(execute=True):
        lead_services.lead_move(lead=linked, stage=lead_services.stage_of_kind("in_dialog"), actor=lead_services.AI)
    assert amo.requests == []


def test_takeover_sets_the_mapped_responsible_user(alpha, amo, linked, django_capture_on_commit_callbacks):
    tenant_config_import(alpha, {"amocrm": {"responsible_map": {"manager@alpha.test": 8801}}})
    manager = user_of(alpha, "manager")
    with tenant_context(alpha), django_capture_on_commit_callbacks(execute=True):
        lead_services.lead_takeover(lead=linked, user=manager)
    assert [(r.method, r.raw_path, r.json()) for r in amo.requests] == [
        ("PATCH", "/api/v4/leads/4101", {"responsible_user_id": 8801})]


def test_takeover_by_an_unmapped_user_sends_nothing(alpha, amo, linked, django_capture_on_commit_callbacks):
    head = user_of(alpha, "head")
    with tenant_context(alpha), django_capture_on_commit_callbacks(execute=True):
        lead_services.lead_takeover(lead=linked, user=head)
    assert amo.requests == []


@pytest.mark.parametrize("what", ["qualified", "meeting"])
def test_notes_for_qualification_and_meeting(alpha, amo, linked, what, django_capture_on_commit_callbacks):
    text = "AI: клиент квалифицирован — дом 10x12, Алматы, горячий"
    with tenant_context(alpha), django_capture_on_commit_callbacks(execute=True):
        assert amocrm_sync.amocrm_on_lead_change(lead_id=linked.pk, what=what, text=text) is True
    (note,) = amo.requests
    assert (note.method, note.raw_path) == ("POST", "/api/v4/leads/4101/notes")
    assert note.json() == [{"note_type": "common", "params": {"text": text}}]


def test_changes_of_leads_not_from_amocrm_are_not_mirrored(alpha, amo, django_capture_on_commit_callbacks):
    with tenant_context(alpha), django_capture_on_commit_callbacks(execute=True):
        lead, _ = lead_services.lead_for_inbound(provider="sandbox", identity="77015550000", phone="77015550000",
                                                 name="Иван")
        assert amocrm_sync.amocrm_on_lead_change(lead_id=lead.pk, what="qualified", text="x") is False
        lead_services.lead_move(lead=lead, stage=lead_services.stage_of_kind("complete"), actor=lead_services.AI)
    assert amo.requests == []
    with pytest.raises(ValueError):
        amocrm_sync.amocrm_on_lead_change(lead_id=lead.pk, what="bogus")


def test_amocrm_refusal_on_write_back_is_a_health_error(alpha, amo, linked, django_capture_on_commit_callbacks):
    del amo.leads[4101]  # PATCH of an unknown lead: 400 "Lead not found"
    with tenant_context(alpha), django_capture_on_commit_callbacks(execute=True):
        lead_services.lead_move(lead=linked, stage=lead_services.stage_of_kind("complete"), actor=lead_services.AI)
    assert len(amo.requests) == 1  # a refusal is not retried
    assert "Lead not found" in health(alpha).last_error


def test_write_back_429_and_5xx_are_retried_with_backoff(alpha, amo, linked, django_capture_on_commit_callbacks):
    amo.script(429, {"title": "Too Many Requests"}, path=r"/api/v4/leads/4101/notes")
    amo.script(502, b"<html>Bad Gateway</html>", path=r"/api/v4/leads/4101/notes")
    with tenant_context(alpha), django_capture_on_commit_callbacks(execute=True):
        amocrm_sync.amocrm_on_lead_change(lead_id=linked.pk, what="qualified", text="горячий")
    assert [r.raw_path for r in amo.requests] == ["/api/v4/leads/4101/notes"] * 3
    assert len(amo.notes) == 1


def test_write_back_task_gives_up_after_bounded_retries(alpha, amo, linked, settings, eager):
    settings.AMOCRM_MAX_RETRIES = 0
    eager.conf.task_eager_propagates = False  # eager retries run in place instead of raising Retry
    amo.script(503, {"detail": "maintenance"}, times=100)
    with tenant_context(alpha):
        assert amocrm_write_back_task.apply(args=[linked.pk, "qualified", "x"], throw=False).get() == "failed"
    assert len(amo.requests) == 6  # the first run + 5 task retries
    assert "503" in health(alpha).last_error and health(alpha).last_error_source == "amocrm"


# --- tokens ----------------------------------------------------------------------------------------


def oauth_settings(amo: AmoStandin, access: str = "amo-access-stale") -> dict:
    return {"access_token": access, "refresh_token": amo.refresh_token, "client_id": amo.client_id,
            "client_secret": amo.client_secret, "redirect_uri": amo.redirect_uri}


def test_expired_token_is_refreshed_and_the_new_pair_saved_encrypted(alpha, amo, linked,
                                                                     django_capture_on_commit_callbacks):
    tenant_config_import(alpha, {"amocrm": oauth_settings(amo)})
    with tenant_context(alpha), django_capture_on_commit_callbacks(execute=True):
        amocrm_sync.amocrm_on_lead_change(lead_id=linked.pk, what="qualified", text="горячий")
    assert [(r.method, r.path) for r in amo.requests] == [
        ("POST", "/api/v4/leads/4101/notes"), ("POST", "/oauth2/access_token"), ("POST", "/api/v4/leads/4101/notes")]
    assert amo.requests[1].json()["refresh_token"] == "amo-refresh-1"
    assert amo.requests[2].headers["authorization"] == "Bearer amo-access-2"
    fresh = Tenant.objects.get(pk=alpha.pk)
    stored = tenant_config_get(fresh)["amocrm"]
    assert (stored["access_token"], stored["refresh_token"]) == ("amo-access-2", "amo-refresh-2")
    assert fresh.config["amocrm"]["refresh_token"].startswith("enc:v1:")  # encrypted at rest
    # The next change uses the saved token directly.
    amo.clear()
    with tenant_context(alpha), django_capture_on_commit_callbacks(execute=True):
        amocrm_sync.amocrm_on_lead_change(lead_id=linked.pk, what="meeting", text="встреча")
    assert [r.headers["authorization"] for r in amo.requests] == ["Bearer amo-access-2"]


def test_second_client_with_the_stale_token_reuses_the_saved_pair(alpha, amo):
    tenant_config_import(alpha, {"amocrm": oauth_settings(amo)})
    with tenant_context(alpha):
        tenant = Tenant.objects.get(pk=alpha.pk)
        one = amocrm_sync.amocrm_client(tenant=tenant)
        two = amocrm_sync.amocrm_client(tenant=tenant)  # loaded before the refresh, as another worker
        one.add_note(4101, "a")
        two.add_note(4101, "b")
    assert [r.path for r in amo.requests].count("/oauth2/access_token") == 1
    assert amo.requests[-1].headers["authorization"] == "Bearer amo-access-2"
    assert [n["params"]["text"] for n in amo.notes] == ["a", "b"]


def test_long_lived_token_is_used_as_configured(alpha, amo, linked, django_capture_on_commit_callbacks):
    with tenant_context(alpha), django_capture_on_commit_callbacks(execute=True):
        amocrm_sync.amocrm_on_lead_change(lead_id=linked.pk, what="qualified", text="ok")
    assert [r.path for r in amo.requests] == ["/api/v4/leads/4101/notes"]
    assert amo.requests[0].headers["authorization"] == "Bearer amo-access-1"


# --- rate limit ------------------------------------------------------------------------------------


def max_in_window(stamps: list[float], window: float = 1.0) -> int:
    stamps = sorted(stamps)
    # 250 ms slack for transport jitter on a loaded machine; unlimited, all 10 would arrive in ~0.1 s.
    return max(sum(1 for t in stamps[i:] if t < start + window - 0.25) for i, start in enumerate(stamps))


def test_requests_of_many_write_backs_stay_within_7_per_second(alpha, amo, linked,
                                                               django_capture_on_commit_callbacks):
    started = time.monotonic()
    with tenant_context(alpha), django_capture_on_commit_callbacks(execute=True):
        for n in range(10):
            amocrm_sync.amocrm_on_lead_change(lead_id=linked.pk, what="qualified", text=f"note {n}")
    assert len(amo.requests) == 10
    assert max_in_window([r.at for r in amo.requests]) <= 7
    assert time.monotonic() - started >= 0.9  # the 8th request waited for the window


# --- concurrency (committed data, real threads) ----------------------------------------------------


@pytest.mark.live
def test_two_workers_taking_the_same_amocrm_lead_make_one_lead(live_tenant, amo, settings):
    settings.AMOCRM_BACKOFF_SECONDS = 0.001
    tenant_config_import(live_tenant, {"amocrm": amo_settings(amo), "outbound_channel": "telegram"})
    with tenant_context(live_tenant):
        ids = [InboundEvent.objects.create(provider="amocrm", event_id=f"{ACCOUNT}:4101:{kind}", payload={
            "account_id": ACCOUNT, "lead_id": 4101, "kind": kind, "status_id": None, "form": {}}).pk
            for kind in ("add", "status")]
    results: list[str] = []
    barrier = threading.Barrier(2)

    def run(event_id: int) -> None:
        try:
            with tenant_context(Tenant.objects.get(pk=live_tenant.pk)):
                barrier.wait()
                results.append(amocrm_intake_process(inbound_event_id=event_id))
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i,)) for i in ids]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(results) == ["created", "known"]
    with tenant_context(live_tenant):
        assert Lead.objects.filter(external_id="4101").count() == 1
        lead = Lead.objects.get(external_id="4101")
        # Telegram cannot start a dialog by phone: a person is asked to, nothing is sent.
        assert lead.needs_human and "telegram" in lead.needs_human_reason
        assert Message.objects.count() == 0
