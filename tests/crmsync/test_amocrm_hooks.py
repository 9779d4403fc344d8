"""amoCRM as it really calls us: hooks we are subscribed to but do not act on, ids we cannot use, hooks without
account[id], bytes PostgreSQL refuses — all answered 200 and recorded (amoCRM switches off a webhook that keeps
failing), never a 4xx, a 500 or a retry loop. And new leads greeted over the tenant's configured WhatsApp
channel by default, over the Cloud API with the configured template (a lead who never wrote has no open 24 h
window), or handed to a person when there is no template.

Bodies follow amoCRM's webhook format (x-www-form-urlencoded `entity[action][i][field]`, `account[subdomain]`,
`account[id]`, `account[_links][self]`); the update, unsorted and message ones are copies of deliveries
captured from a real account, with our test account's ids."""
from __future__ import annotations

from urllib.parse import quote

import pytest
from django_tenants.utils import tenant_context

from conversations.models import InboundEvent, Message
from crmsync.intake import NO_TEMPLATE_REASON, amocrm_intake_process
from crmsync.models import AmoLeadLink
from leads.models import Lead
from tenants.services import tenant_config_import
from tests.crmsync import test_amocrm_flow as flow
from tests.crmsync.test_amocrm_flow import ACCOUNT, amo_settings, post_webhook, process, stored_events
from tests.integrations.standin import Scripted, StandIn

alpha, amo, eager = flow.alpha, flow.amo, flow.eager  # the flow tests' fixtures: amoCRM stand-in, eager tasks

ACC = f"account[subdomain]=buildco&account[id]={ACCOUNT}&account[_links][self]=https://buildco.amocrm.ru"


def form(*pairs: tuple[str, str]) -> str:
    return "&".join(f"{quote(k, safe='[]_')}={quote(v)}" for k, v in pairs)


CONTACT_ADD = form(("contacts[add][0][id]", "93589657"), ("contacts[add][0][name]", "Айгуль"),
                   ("contacts[add][0][responsible_user_id]", "10004026"),
                   ("contacts[add][0][date_create]", "1695484695"), ("contacts[add][0][last_modified]", "1695484695"),
                   ("contacts[add][0][type]", "contact")) + "&" + ACC
CONTACT_UPDATE = CONTACT_ADD.replace("contacts[add]", "contacts[update]")
LEAD_UPDATE = ACC + "&" + form(
    ("leads[update][0][id]", "27754599"), ("leads[update][0][name]", ""), ("leads[update][0][status_id]", "59936206"),
    ("leads[update][0][old_status_id]", "59936202"), ("leads[update][0][responsible_user_id]", "10004026"),
    ("leads[update][0][last_modified]", "1695482907"), ("leads[update][0][modified_user_id]", "10004026"),
    ("leads[update][0][created_user_id]", "0"), ("leads[update][0][date_create]", "1694590926"),
    ("leads[update][0][pipeline_id]", "7173574"), ("leads[update][0][account_id]", str(ACCOUNT)),
    ("leads[update][0][created_at]", "1694590926"), ("leads[update][0][updated_at]", "1695482907"))
LEAD_DELETE = form(("leads[delete][0][id]", "4101"), ("leads[delete][0][status_id]", "142"),
                   ("leads[delete][0][pipeline_id]", "77")) + "&" + ACC
UNSORTED_ADD = ACC + "&" + form(
    ("unsorted[add][0][uid]", "00b625866db8641999f48766d61d4d0663c12aa38b9bcb4d2866b0c49605"),
    ("unsorted[add][0][source]", "telegram:29e8f8c6-7557-5f5f-8642-2789ef3f3a13"),
    ("unsorted[add][0][category]", "chats"), ("unsorted[add][0][source_data][from]", "Oleg"),
    ("unsorted[add][0][source_data][service]", "telegram"),
    ("unsorted[add][0][source_data][data][0][text]", "v"), ("unsorted[add][0][date_create]", "1695484695"),
    ("unsorted[add][0][data][contacts][0][id]", "93589657"), ("unsorted[add][0][pipeline_id]", "7173574"),
    ("unsorted[add][0][account_id]", str(ACCOUNT)), ("unsorted[add][0][lead_id]", "28455371"))
NOTE_ADD = form(("leads[note][0][note][id]", "51234"), ("leads[note][0][note][note_type]", "4"),
                ("leads[note][0][note][text]", "Перезвонить после обеда"),
                ("leads[note][0][note][element_id]", "4101"), ("leads[note][0][note][element_type]", "2")) + "&" + ACC
MESSAGE_ADD = ACC + "&" + form(
    ("message[add][0][id]", "a0ce13c7-4825-4ecc-9dc0-b35c49b86db4"), ("message[add][0][talk_id]", "100"),
    ("message[add][0][contact_id]", "93589657"), ("message[add][0][text]", "f"),
    ("message[add][0][element_id]", "27754599"), ("message[add][0][type]", "incoming"),
    ("message[add][0][author][name]", "Oleg"), ("message[add][0][origin]", "telegram"))


def recorded(tenant) -> list[InboundEvent]:
    return [e for e in stored_events(tenant) if e.event_id.startswith("sha256:")]


# --- what we do not act on ----------------------------------------------------------------------------------


@pytest.mark.parametrize("body,name", [
    (CONTACT_ADD, "contacts[add]"), (CONTACT_UPDATE, "contacts[update]"), (LEAD_UPDATE, "leads[update]"),
    (LEAD_DELETE, "leads[delete]"), (UNSORTED_ADD, "unsorted[add]"), (NOTE_ADD, "leads[note]"),
    (MESSAGE_ADD, "message[add]"),
])
def test_hooks_we_do_not_act_on_are_200_and_recorded_once(alpha, amo, django_capture_on_commit_callbacks, body,
                                                           name):
    for _ in range(2):  # amoCRM resends: still one record
        with django_capture_on_commit_callbacks() as callbacks:
            res = post_webhook(alpha, body)
        assert res.status_code == 200, res.content
        assert res.json() == {"ok": True, "queued": 0, "not_acted_on": [name]}
        assert callbacks == []  # no intake task
    (event,) = stored_events(alpha)
    assert event.event_id.startswith("sha256:") and event.processed_at is not None
    assert event.error == f"not acted on: {name}"
    assert event.payload["account_id"] == ACCOUNT and event.payload["ignored"] == [name]
    assert any(key.startswith(name) for key in event.payload["form"])  # the raw hook, as it arrived
    assert amo.requests == []
    with tenant_context(alpha):
        assert Lead.objects.count() == 0


def test_a_hook_with_a_new_lead_and_a_contact_acts_on_the_lead_and_records_the_rest(
        alpha, amo, django_capture_on_commit_callbacks):
    body = form(("leads[add][0][id]", "4101"), ("leads[add][0][status_id]", "142")) + "&" + CONTACT_ADD
    with django_capture_on_commit_callbacks() as callbacks:
        res = post_webhook(alpha, body)
    assert res.json() == {"ok": True, "queued": 1, "not_acted_on": ["contacts[add]"]}
    assert len(callbacks) == 1
    lead_event = next(e for e in stored_events(alpha) if e.event_id == f"{ACCOUNT}:4101:add")
    assert lead_event.processed_at is None
    assert [e.error for e in recorded(alpha)] == ["not acted on: contacts[add]"]


# --- ids we cannot use ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("lead_part,reason", [
    ("leads[add][0][id]=99999999999999999999", "leads[add][0][id] is not an amoCRM id: '99999999999999999999'"),
    ("leads[add][0][id]=9223372036854775808", "leads[add][0][id] is not an amoCRM id: '9223372036854775808'"),
    ("leads[status][0][id]=4101&leads[status][0][status_id]=1e20",
     "leads[status][0][status_id] is not an amoCRM id: '1e20'"),
    ("leads[add][0][id]=abc", "leads[add][0][id] is not an amoCRM id: 'abc'"),
    ("leads[add][0][id]=-4101", "leads[add][0][id] is not an amoCRM id: '-4101'"),
    ("leads[add][0][status_id]=142", "leads[add][0][id] is not an amoCRM id: None"),
])
def test_unusable_ids_are_recorded_and_skipped_not_refused(alpha, amo, django_capture_on_commit_callbacks,
                                                           lead_part, reason):
    with django_capture_on_commit_callbacks() as callbacks:
        res = post_webhook(alpha, f"{lead_part}&{ACC}")
    assert res.status_code == 200 and res.json()["queued"] == 0
    assert callbacks == [] and amo.requests == []
    (event,) = stored_events(alpha)
    assert event.processed_at is not None and event.error == f"skipped: {reason}"


def test_an_account_id_we_cannot_use_skips_the_whole_hook(alpha, amo, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks() as callbacks:
        res = post_webhook(alpha, "leads[add][0][id]=4101&account[id]=99999999999999999999999&account[subdomain]=x")
    assert res.status_code == 200 and callbacks == []
    (event,) = stored_events(alpha)
    assert "account[id] is not an amoCRM id" in event.error and event.processed_at is not None


def test_a_stored_event_with_an_id_out_of_range_is_ignored_without_calling_amocrm(alpha, amo):
    """An event stored before ids were checked (or by hand): the worker records why and stops, no retries."""
    with tenant_context(alpha):
        event = InboundEvent.objects.create(provider="amocrm", event_id="old-huge", payload={
            "account_id": ACCOUNT, "lead_id": 10**20, "kind": "add", "status_id": None, "form": {}})
        assert amocrm_intake_process(inbound_event_id=event.pk) == "ignored"
        event.refresh_from_db()
    assert event.processed_at is not None and "not an amoCRM id" in event.error
    assert amo.requests == []


def test_nul_and_broken_utf8_in_a_field_do_not_break_storage(alpha, amo, django_capture_on_commit_callbacks):
    body = "leads[add][0][id]=4101&leads[add][0][name]=%D0%97%00%ED%A0%80%FF&" + ACC
    with django_capture_on_commit_callbacks():
        res = post_webhook(alpha, body)
    assert res.status_code == 200 and res.json()["queued"] == 1
    (event,) = stored_events(alpha)
    assert "\x00" not in event.payload["form"]["leads[add][0][name]"][0]


# --- account by subdomain -------------------------------------------------------------------------------------


def test_a_hook_without_account_id_is_matched_by_subdomain(tenant_a, amo, eager, django_capture_on_commit_callbacks):
    tenant_config_import(tenant_a, {"amocrm": amo_settings(amo, base_url="https://buildco.amocrm.ru")})
    tenant_a.refresh_from_db()
    with django_capture_on_commit_callbacks() as callbacks:
        res = post_webhook(tenant_a, "leads[add][0][id]=4101&leads[add][0][status_id]=142&account[subdomain]=buildco")
    assert res.json() == {"ok": True, "queued": 1} and len(callbacks) == 1
    (event,) = stored_events(tenant_a)
    # keyed by the tenant's account id: the same lead in a hook that does carry the id is the same event
    assert event.event_id == f"{ACCOUNT}:4101:add" and event.payload["account_id"] == ACCOUNT
    assert post_webhook(tenant_a, f"leads[add][0][id]=4101&{ACC}").json() == {"ok": True, "queued": 1}
    assert len(stored_events(tenant_a)) == 1
    # another account's subdomain: recorded and ignored
    res = post_webhook(tenant_a, "leads[add][0][id]=4102&account[subdomain]=otherco")
    assert res.status_code == 200 and res.json()["ignored"] == 1 and "otherco" in res.json()["detail"]
    other = next(e for e in stored_events(tenant_a) if ":4102:" in e.event_id)
    assert other.processed_at is not None and "otherco" in other.error


def test_a_lead_from_a_hook_without_account_id_is_taken_in(tenant_a, amo, eager, django_capture_on_commit_callbacks):
    """The worker checks the account again the same way and creates the lead."""
    local = amo.url.replace("127.0.0.1", "localhost")  # the stand-in's host: subdomain "localhost"
    tenant_config_import(tenant_a, {"amocrm": amo_settings(amo, base_url=local), "outbound_channel": "sandbox"})
    tenant_a.refresh_from_db()
    post_webhook(tenant_a, "leads[add][0][id]=4101&account[subdomain]=localhost")
    (event,) = stored_events(tenant_a)
    assert process(tenant_a, event.pk, django_capture_on_commit_callbacks) == "created"
    with tenant_context(tenant_a):
        link = AmoLeadLink.objects.get()
        assert (link.account_id, link.amo_lead_id, link.lead.phone) == (ACCOUNT, 4101, "77011112233")


# --- the greeting ---------------------------------------------------------------------------------------------


@pytest.fixture
def provider_standin():
    server = StandIn()
    yield server
    server.close()


@pytest.fixture
def amo_only(tenant_a, amo, eager):
    """amoCRM configured, `outbound_channel` left at its default."""
    tenant_config_import(tenant_a, {"amocrm": amo_settings(amo)})
    tenant_a.refresh_from_db()
    return tenant_a


def take_in(tenant, django_capture_on_commit_callbacks) -> Lead:
    post_webhook(tenant, f"leads[add][0][id]=4101&{ACC}")
    (event,) = stored_events(tenant)
    assert process(tenant, event.pk, django_capture_on_commit_callbacks) == "created"
    with tenant_context(tenant):
        return Lead.objects.get()


def test_by_default_a_new_lead_is_greeted_over_the_configured_chatflow(amo_only, provider_standin,
                                                                      django_capture_on_commit_callbacks):
    provider_standin.default = Scripted(json={"success": True, "messageId": "CF-1"})
    tenant_config_import(amo_only, {"channels": {"chatflow": {"api_url": provider_standin.url, "token": "cf",
                                                              "instance_id": "inst-1"}}})
    lead = take_in(amo_only, django_capture_on_commit_callbacks)
    assert (lead.channel, lead.provider) == ("whatsapp", "chatflow")
    with tenant_context(amo_only):
        sent = list(Message.objects.filter(lead=lead, direction="out"))
    assert sent and {m.status for m in sent} == {"sent"}
    assert provider_standin.requests[0].path.endswith("/send-text")
    assert provider_standin.requests[0].query["jid"] == "77011112233@s.whatsapp.net"


@pytest.mark.parametrize("outbound", [None, "whatsapp_cloud"])
def test_over_the_cloud_api_a_new_lead_gets_the_greeting_template(amo_only, provider_standin, outbound,
                                                                 django_capture_on_commit_callbacks):
    provider_standin.default = Scripted(json={"messaging_product": "whatsapp", "messages": [{"id": "wamid.HELLO"}]})
    tenant_config_import(amo_only, {
        **({"outbound_channel": outbound} if outbound else {}),
        "channels": {"whatsapp_cloud": {"api_url": provider_standin.url, "phone_number_id": "1099",
                                        "access_token": "EAAG", "app_secret": "s",
                                        "greeting_template": {"name": "lead_hello", "language": "ru"}}}})
    lead = take_in(amo_only, django_capture_on_commit_callbacks)
    assert (lead.channel, lead.provider) == ("whatsapp", "whatsapp")
    with tenant_context(amo_only):
        (message,) = Message.objects.filter(lead=lead, direction="out")
        assert (message.kind, message.status, message.provider_message_id) == ("template", "sent", "wamid.HELLO")
        assert not Lead.objects.get().needs_human
    (request,) = provider_standin.requests  # one template, no doomed free text
    assert (request.method, request.path) == ("POST", "/1099/messages")
    assert request.json == {"messaging_product": "whatsapp", "recipient_type": "individual", "to": "77011112233",
                            "type": "template", "template": {"name": "lead_hello", "language": {"code": "ru"}}}


def test_over_the_cloud_api_without_a_template_a_person_is_asked(amo_only, provider_standin,
                                                                django_capture_on_commit_callbacks):
    tenant_config_import(amo_only, {"channels": {"whatsapp_cloud": {
        "api_url": provider_standin.url, "phone_number_id": "1099", "access_token": "EAAG", "app_secret": "s"}}})
    lead = take_in(amo_only, django_capture_on_commit_callbacks)
    assert lead.provider == "whatsapp"
    assert lead.needs_human and lead.needs_human_reason == NO_TEMPLATE_REASON[:300]
    with tenant_context(amo_only):
        assert Message.objects.count() == 0
    assert provider_standin.requests == []


def test_no_template_greeting_while_the_tenants_ai_is_off(amo_only, provider_standin,
                                                          django_capture_on_commit_callbacks):
    tenant_config_import(amo_only, {"ai": {"enabled": False}, "channels": {"whatsapp_cloud": {
        "api_url": provider_standin.url, "phone_number_id": "1099", "access_token": "EAAG",
        "greeting_template": {"name": "lead_hello"}}}})
    lead = take_in(amo_only, django_capture_on_commit_callbacks)
    with tenant_context(amo_only):
        assert Message.objects.filter(lead=lead).count() == 0
    assert provider_standin.requests == []


def test_an_explicit_sandbox_stays_the_sandbox(amo_only, provider_standin, django_capture_on_commit_callbacks):
    tenant_config_import(amo_only, {"outbound_channel": "sandbox", "channels": {"chatflow": {
        "api_url": provider_standin.url, "token": "cf", "instance_id": "inst-1"}}})
    lead = take_in(amo_only, django_capture_on_commit_callbacks)
    assert lead.provider == "sandbox" and provider_standin.requests == []
