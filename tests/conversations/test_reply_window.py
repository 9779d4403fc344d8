"""The WhatsApp 24 h window in the chat (issue 16): the card tells whether it is open, lists the tenant's approved
templates with their variables filled, refuses a person's free text while it is closed (400 with the reason, nothing
sent), and sends a chosen template through the normal pipeline — the stand-in checks the exact request."""
from __future__ import annotations

import time
from datetime import timedelta

import pytest
from django.utils import timezone
from django_tenants.utils import tenant_context

from conversations.models import Message, MessageStatus
from leads.models import Lead
from tenants.config import ConfigError
from tenants.services import tenant_config_import
from tests.conftest import user_of
from tests.leads.conftest import make_lead, set_managers_see_all

WA_OK = {"messaging_product": "whatsapp", "messages": [{"id": "wamid.TPL-1"}]}
TEMPLATES = [
    {"name": "reminder", "language": "ru", "text": "Здравствуйте, {{1}}! Это {{2}} из {{3}}. Актуально?",
     "variables": ["name", "manager", "company"]},
    {"name": "plain_hello", "text": "Добрый день! Напишите нам, когда будет удобно."},
]


def configure(tenant, api_url: str = "http://127.0.0.1:9/v21.0") -> None:
    tenant_config_import(tenant, {"company": "СтройДом", "channels": {"whatsapp_cloud": {
        "api_url": api_url, "phone_number_id": "1099", "access_token": "EAAG-tok", "app_secret": "s",
        "verify_token": "v", "template_language": "kk", "templates": TEMPLATES}}})


def wa_lead(tenant, *, silent_for: timedelta, **fields) -> Lead:
    lead = make_lead(tenant, name="Ерлан", phone="77011112233", provider="whatsapp", channel="whatsapp", **fields)
    with tenant_context(tenant):
        Lead.objects.filter(pk=lead.pk).update(last_inbound_at=timezone.now() - silent_for)
        lead.refresh_from_db()
    return lead


def window_of(client, lead):
    res = client.get(f"/api/leads/{lead.pk}/reply-window/")
    assert res.status_code == 200, res.content
    return res.json()


def test_closed_window_lists_templates_filled_for_the_lead(tenant_a, client_for):
    configure(tenant_a)
    lead = wa_lead(tenant_a, silent_for=timedelta(hours=25))
    window = window_of(client_for(tenant_a, "head"), lead)
    assert window["applies"] is True and window["open"] is False
    assert window["last_inbound_at"] and window["closes_at"]
    reminder, plain = window["templates"]
    assert reminder == {"name": "reminder", "language": "ru", "parameters": ["Ерлан", "Head alpha", "СтройДом"],
                        "text": "Здравствуйте, Ерлан! Это Head alpha из СтройДом. Актуально?"}
    assert plain["language"] == "kk" and plain["parameters"] == [] and plain["text"].startswith("Добрый день!")


def test_open_window_and_other_channels(tenant_a, client_for):
    configure(tenant_a)
    client = client_for(tenant_a, "owner")
    fresh = wa_lead(tenant_a, silent_for=timedelta(hours=2))
    assert window_of(client, fresh)["open"] is True
    never_wrote = make_lead(tenant_a, name="Тихий", provider="whatsapp", channel="whatsapp")
    assert window_of(client, never_wrote) | {"templates": []} == {
        "applies": True, "open": False, "last_inbound_at": None, "closes_at": None, "templates": []}
    sandbox = make_lead(tenant_a, name="Песочница", provider="sandbox", channel="sandbox")
    assert window_of(client, sandbox) == {"applies": False, "open": True, "last_inbound_at": None,
                                          "closes_at": None, "templates": []}
    res = client.post(f"/api/leads/{sandbox.pk}/messages/", {"template": "reminder"}, format="json")
    assert res.status_code == 400 and "WhatsApp Cloud" in res.json()["detail"]


def test_no_window_where_the_cloud_api_is_not_set_up(tenant_a, client_for):
    lead = wa_lead(tenant_a, silent_for=timedelta(hours=25))  # a demo-like lead: the tenant has no Cloud API section
    window = window_of(client_for(tenant_a, "owner"), lead)
    assert window["applies"] is False and window["open"] is True


def test_free_text_is_refused_while_the_window_is_closed(tenant_a, client_for):
    configure(tenant_a)
    lead = wa_lead(tenant_a, silent_for=timedelta(hours=25))
    res = client_for(tenant_a, "manager").post(f"/api/leads/{lead.pk}/messages/", {"text": "Вы тут?"},
                                               format="json")
    assert res.status_code == 400, res.content
    assert "24" in res.json()["detail"] and "шаблон" in res.json()["detail"]
    with tenant_context(tenant_a):
        assert not Message.objects.filter(lead_id=lead.pk).exists()
        assert Lead.objects.get(pk=lead.pk).handler_id is None  # a refused message takes nothing over


def test_an_unknown_template_or_one_with_a_photo_is_400(tenant_a, client_for):
    configure(tenant_a)
    lead = wa_lead(tenant_a, silent_for=timedelta(hours=25))
    client = client_for(tenant_a, "owner")
    res = client.post(f"/api/leads/{lead.pk}/messages/", {"template": "nope"}, format="json")
    assert res.status_code == 400 and "nope" in res.json()["detail"]
    res = client.post(f"/api/leads/{lead.pk}/messages/", {"template": ""}, format="json")
    assert res.status_code == 400
    res = client.post(f"/api/leads/{lead.pk}/messages/", {"template": "", "text": "x"}, format="multipart")
    assert res.status_code == 400 and res.json()["detail"].startswith("template")
    with tenant_context(tenant_a):
        assert not Message.objects.filter(lead_id=lead.pk).exists()


def test_roles_and_tenants(tenant_a, tenant_b, client_for):
    configure(tenant_a)
    set_managers_see_all(tenant_a, False)
    lead = wa_lead(tenant_a, silent_for=timedelta(hours=25), assignee=user_of(tenant_a, "manager2"))
    for client in (client_for(tenant_a, "manager"), client_for(tenant_b, "owner")):
        assert client.get(f"/api/leads/{lead.pk}/reply-window/").status_code == 404
        assert client.post(f"/api/leads/{lead.pk}/messages/", {"template": "reminder"},
                           format="json").status_code == 404
    assert client_for(tenant_a).get(f"/api/leads/{lead.pk}/reply-window/").status_code == 401
    assert client_for(tenant_a, "manager2").get(f"/api/leads/{lead.pk}/reply-window/").status_code == 200


@pytest.mark.parametrize("template", [{"text": "no name"}, {"name": "x", "variables": ["budget"]},
                                      {"name": "x", "variables": "name"}, {"name": 5}])
def test_bad_template_config_is_refused(tenant_a, template):
    with pytest.raises(ConfigError):
        tenant_config_import(tenant_a, {"channels": {"whatsapp_cloud": {"templates": [template]}}})


def test_a_template_goes_out_through_the_pipeline_with_its_variables(worker, live_tenant, standin, client_for):
    configure(live_tenant, standin.url + "/v21.0")
    standin.default.json = WA_OK
    lead = wa_lead(live_tenant, silent_for=timedelta(days=3))
    client = client_for(live_tenant, "manager")
    res = client.post(f"/api/leads/{lead.pk}/messages/", {"template": "reminder"}, format="json")
    assert res.status_code == 201, res.content
    body = res.json()
    assert body["kind"] == "template" and body["author_kind"] == "user" and body["status"] == "queued"
    assert body["text"] == "Здравствуйте, Ерлан! Это Manager " + live_tenant.slug + " из СтройДом. Актуально?"
    deadline = time.monotonic() + 30
    with tenant_context(live_tenant):
        while Message.objects.get(pk=body["id"]).status == MessageStatus.QUEUED and time.monotonic() < deadline:
            time.sleep(0.05)
        message = Message.objects.get(pk=body["id"])
        assert message.status == MessageStatus.SENT and message.provider_message_id == "wamid.TPL-1"
        assert Lead.objects.get(pk=lead.pk).handler_id == user_of(live_tenant, "manager").pk
    [request] = standin.requests
    assert (request.method, request.path) == ("POST", "/v21.0/1099/messages")
    assert request.headers["authorization"] == "Bearer EAAG-tok"
    assert request.json == {
        "messaging_product": "whatsapp", "recipient_type": "individual", "to": "77011112233", "type": "template",
        "template": {"name": "reminder", "language": {"code": "ru"}, "components": [{"type": "body", "parameters": [
            {"type": "text", "text": "Ерлан"}, {"type": "text", "text": f"Manager {live_tenant.slug}"},
            {"type": "text", "text": "СтройДом"}]}]}}
    # and free text is still refused while the window stays closed, with no request made
    res = client.post(f"/api/leads/{lead.pk}/messages/", {"text": "Ну что?"}, format="json")
    assert res.status_code == 400 and len(standin.requests) == 1


def test_instagram_lets_a_person_answer_for_7_days_and_has_no_templates(tenant_a, client_for):
    tenant_config_import(tenant_a, {"channels": {"instagram": {"ig_account_id": "17841400000000001",
                                                               "app_secret": "s", "page_access_token": "t"}}})
    client = client_for(tenant_a, "owner")
    for days, allowed in ((2, True), (8, False)):
        lead = make_lead(tenant_a, name=f"Инста {days}", provider="instagram", channel="instagram")
        with tenant_context(tenant_a):
            Lead.objects.filter(pk=lead.pk).update(last_inbound_at=timezone.now() - timedelta(days=days))
        window = window_of(client, lead)
        assert window["applies"] is True and window["open"] is allowed and window["templates"] == []
        res = client.post(f"/api/leads/{lead.pk}/messages/", {"text": "Здравствуйте"}, format="json")
        assert res.status_code == (201 if allowed else 400), res.content
        if not allowed:
            assert "instagram" in res.json()["detail"]
        res = client.post(f"/api/leads/{lead.pk}/messages/", {"template": "reminder"}, format="json")
        assert res.status_code == 400 and "WhatsApp Cloud" in res.json()["detail"]
