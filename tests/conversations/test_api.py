"""Messages of a lead (history paging, sending as a person, photos) and the sandbox channel."""
from __future__ import annotations

import os
from urllib.parse import unquote

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django_tenants.utils import tenant_context

from tests.conftest import user_of
from tests.leads.conftest import add_followup, add_message, make_lead, set_managers_see_all

PNG = (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00\x1f\x15\xc4\x89"
       b"\x00\x00\x00\rIDATx\x9cc\xf8\x0f\x00\x00\x01\x01\x00\x05\x18\xd8N\x00\x00\x00\x00IEND\xaeB`\x82")


@pytest.fixture
def dialog(tenant_a):
    lead = make_lead(tenant_a, name="Диалог", phone="77015550000", provider="sandbox", channel="sandbox")
    messages = [add_message(tenant_a, lead, direction="in" if i % 2 == 0 else "out", text=f"m{i}") for i in range(7)]
    return lead, messages


def test_history_is_oldest_to_newest_with_before_and_limit(tenant_a, client_for, dialog):
    lead, messages = dialog
    client = client_for(tenant_a, "manager")
    url = f"/api/leads/{lead.pk}/messages/"
    assert [m["text"] for m in client.get(url).json()] == [f"m{i}" for i in range(7)]
    page = client.get(url, {"limit": 3}).json()
    assert [m["text"] for m in page] == ["m4", "m5", "m6"]
    older = client.get(url, {"limit": 3, "before": page[0]["id"]}).json()
    assert [m["text"] for m in older] == ["m1", "m2", "m3"]
    oldest = client.get(url, {"limit": 3, "before": older[0]["id"]}).json()
    assert [m["text"] for m in oldest] == ["m0"]
    first = page[0]
    assert first["direction"] == "in" and first["author_kind"] == "client" and first["lead"] == lead.pk
    assert {"id", "kind", "media_url", "caption", "status", "error", "author", "created_at"} <= set(first)


@pytest.mark.parametrize("limit", ["0", "-1", "abc", "201"])
def test_bad_limit_is_400(tenant_a, client_for, dialog, limit):
    res = client_for(tenant_a, "owner").get(f"/api/leads/{dialog[0].pk}/messages/", {"limit": limit})
    assert res.status_code == 400 and res.json()["detail"].startswith("limit")


def test_post_text_sends_as_the_user_and_takes_the_dialog_over(tenant_a, client_for, dialog):
    lead, _ = dialog
    pending = add_followup(tenant_a, lead)
    client = client_for(tenant_a, "manager")
    manager = user_of(tenant_a, "manager")
    res = client.post(f"/api/leads/{lead.pk}/messages/", {"text": "  Добрый день, это Дана  "}, format="json")
    assert res.status_code == 201, res.content
    body = res.json()
    assert body["text"] == "Добрый день, это Дана" and body["kind"] == "text" and body["direction"] == "out"
    assert body["author_kind"] == "user" and body["author"]["id"] == manager.pk
    assert body["status"] == "queued" and body["purpose"] == "human"
    card = client.get(f"/api/leads/{lead.pk}/").json()
    assert card["handled_by"]["id"] == manager.pk and card["assignee"]["id"] == manager.pk
    assert card["last_message"]["text"] == "Добрый день, это Дана" and card["waiting_since"]
    with tenant_context(tenant_a):
        pending.refresh_from_db()
    assert pending.status == "cancelled"
    client.post(f"/api/leads/{lead.pk}/messages/", {"text": "Ещё"}, format="json")
    takeovers = [e for e in client.get(f"/api/leads/{lead.pk}/events/").json() if e["kind"] == "takeover"]
    assert len(takeovers) == 1
    assert [m["text"] for m in client.get(f"/api/leads/{lead.pk}/messages/", {"limit": 2}).json()] == [
        "Добрый день, это Дана", "Ещё"]


def test_post_image_multipart_stores_it_and_sends_its_url(tenant_a, client_for, dialog, settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path)
    lead, _ = dialog
    client = client_for(tenant_a, "head")
    photo = SimpleUploadedFile("дом.png", PNG, content_type="image/png")
    res = client.post(f"/api/leads/{lead.pk}/messages/", {"text": "Вот такой дом", "image": photo},
                      format="multipart")
    assert res.status_code == 201, res.content
    body = res.json()
    assert body["kind"] == "image" and body["caption"] == "Вот такой дом"
    assert body["media_url"].startswith("http://alpha.") and "/media/alpha/" in body["media_url"]
    stored = os.path.join(str(tmp_path), "alpha", unquote(body["media_url"].rsplit("/", 1)[1]))
    assert open(stored, "rb").read() == PNG
    only_photo = client.post(f"/api/leads/{lead.pk}/messages/",
                             {"image": SimpleUploadedFile("a.jpg", PNG, content_type="image/jpeg")}, format="multipart")
    assert only_photo.status_code == 201 and only_photo.json()["caption"] == ""


@pytest.mark.parametrize("body,fmt", [({"text": ""}, "json"), ({"text": "   "}, "json"), ({}, "json"),
                                      ({"text": "x" * 4097}, "json")])
def test_empty_or_oversized_message_is_400(tenant_a, client_for, dialog, body, fmt):
    lead, messages = dialog
    client = client_for(tenant_a, "owner")
    res = client.post(f"/api/leads/{lead.pk}/messages/", body, format=fmt)
    assert res.status_code == 400 and res.json()["detail"]
    assert len(client.get(f"/api/leads/{lead.pk}/messages/").json()) == len(messages)
    assert client.get(f"/api/leads/{lead.pk}/").json()["handled_by"] == "ai"


def test_non_image_upload_is_400(tenant_a, client_for, dialog, settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path)
    lead, _ = dialog
    res = client_for(tenant_a, "owner").post(
        f"/api/leads/{lead.pk}/messages/",
        {"text": "смета", "image": SimpleUploadedFile("a.pdf", b"%PDF-1.4", content_type="application/pdf")},
        format="multipart")
    assert res.status_code == 400 and res.json()["detail"].startswith("image")


# --- sandbox ------------------------------------------------------------------------------------------


def test_sandbox_message_creates_a_lead_and_stores_the_message(tenant_a, client_for):
    client = client_for(tenant_a, "manager")
    res = client.post("/api/sandbox/messages/", {"phone": "+7 (701) 555-44-33", "name": "Жанна",
                                                 "text": "Здравствуйте, нужен дом"}, format="json")
    assert res.status_code == 201, res.content
    lead_id = res.json()["lead_id"]
    message = res.json()["message"]
    assert message["direction"] == "in" and message["author_kind"] == "client" and message["status"] == "received"
    card = client.get(f"/api/leads/{lead_id}/").json()
    assert (card["name"], card["phone"], card["channel"], card["stage_kind"]) == ("Жанна", "77015554433", "sandbox",
                                                                                 "new")
    assert card["last_message"]["text"] == "Здравствуйте, нужен дом" and card["source"] == "sandbox"
    # the same phone written differently is the same client
    again = client.post("/api/sandbox/messages/", {"phone": "77015554433", "text": "Алло?"}, format="json")
    assert again.json()["lead_id"] == lead_id
    dialog = client.get("/api/sandbox/messages/", {"phone": "+7 701 555 44 33"}).json()
    assert [m["text"] for m in dialog] == ["Здравствуйте, нужен дом", "Алло?"]
    assert [e["kind"] for e in client.get(f"/api/leads/{lead_id}/events/").json()] == ["created"]


def test_sandbox_get_shows_what_the_product_sent(tenant_a, client_for):
    from conversations.services import message_send

    client = client_for(tenant_a, "owner")
    lead_id = client.post("/api/sandbox/messages/", {"phone": "77017778899", "text": "Привет"},
                          format="json").json()["lead_id"]
    with tenant_context(tenant_a):
        from leads.models import Lead

        message_send(lead=Lead.objects.get(pk=lead_id), author_kind="ai", text="Здравствуйте! Я Алия.")
    dialog = client.get("/api/sandbox/messages/", {"phone": "77017778899"}).json()
    assert [(m["direction"], m["text"]) for m in dialog] == [("in", "Привет"), ("out", "Здравствуйте! Я Алия.")]
    assert client.get("/api/sandbox/messages/", {"phone": "77000000000"}).json() == []


@pytest.mark.parametrize("body", [
    {"phone": "abc", "text": "x"}, {"phone": "12", "text": "x"}, {"phone": "1" * 16, "text": "x"},
    {"phone": "77015554433"}, {"phone": "77015554433", "text": ""}, {"text": "x"},
    {"phone": "77015554433", "text": "x" * 4097},
])
def test_sandbox_post_bad_input_is_400(tenant_a, client_for, body):
    res = client_for(tenant_a, "owner").post("/api/sandbox/messages/", body, format="json")
    assert res.status_code == 400 and res.json()["detail"]
    with tenant_context(tenant_a):
        from leads.models import Lead

        assert not Lead.objects.exists()


@pytest.mark.parametrize("query", [{}, {"phone": ""}, {"phone": "abc"}, {"phone": "123"}])
def test_sandbox_get_bad_phone_is_400(tenant_a, client_for, query):
    res = client_for(tenant_a, "owner").get("/api/sandbox/messages/", query)
    assert res.status_code == 400 and res.json()["detail"].startswith("phone")


def test_sandbox_dialog_follows_lead_visibility(tenant_a, tenant_b, client_for):
    owner = client_for(tenant_a, "owner")
    lead_id = owner.post("/api/sandbox/messages/", {"phone": "77016660000", "text": "Секрет"},
                         format="json").json()["lead_id"]
    set_managers_see_all(tenant_a, False)
    manager = client_for(tenant_a, "manager")
    assert manager.get("/api/sandbox/messages/", {"phone": "77016660000"}).json() == []
    owner.patch(f"/api/leads/{lead_id}/", {"assignee": user_of(tenant_a, "manager").pk}, format="json")
    assert len(manager.get("/api/sandbox/messages/", {"phone": "77016660000"}).json()) == 1
    # another tenant's sandbox knows nothing of it
    assert client_for(tenant_b, "owner").get("/api/sandbox/messages/", {"phone": "77016660000"}).json() == []
