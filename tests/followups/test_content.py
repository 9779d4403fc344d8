"""The content library: CRUD API role matrix and tenant isolation, bad input, the selection service, sending
(the AI's send_content), lead magnet matching, the campaigns config and the global admin's tenant picker."""
from __future__ import annotations

import pytest
from django.test import Client
from django_tenants.utils import tenant_context

from followups.models import Content, ContentDelivery
from followups.selectors import content_pick
from followups.services import campaign_match, campaign_on_new_lead, content_send
from leads.models import StageKind
from leads.services import AI, lead_move, lead_set_score, stage_of_kind
from tenants.config import ConfigError, validate
from tests.followups.conftest import client_writes, configure

DOC = {"type": "document", "title": "Каталог", "url": "https://cdn.kz/cat.pdf", "tags": ["дом"],
       "stages": ["in_dialog"], "temperatures": ["warm"], "language": "ru"}


@pytest.mark.parametrize("role, status", [("owner", 201), ("head", 201), ("manager", 403), ("manager2", 403),
                                          (None, 401)])
def test_create_role_matrix(tenant_a, client_for, role, status):
    response = client_for(tenant_a, role).post("/api/content/", DOC, format="json")
    assert response.status_code == status, response.content
    if status == 201:
        assert response.json()["title"] == "Каталог" and response.json()["active"] is True


@pytest.mark.parametrize("role, read, write", [("owner", 200, 200), ("head", 200, 200), ("manager", 200, 403),
                                               (None, 401, 401)])
def test_read_update_delete_role_matrix(tenant_a, client_for, role, read, write):
    item = client_for(tenant_a, "owner").post("/api/content/", DOC, format="json").json()
    api = client_for(tenant_a, role)
    assert api.get("/api/content/").status_code == read
    assert api.get(f"/api/content/{item['id']}/").status_code == read
    assert api.patch(f"/api/content/{item['id']}/", {"title": "Новый"}, format="json").status_code == write
    assert api.delete(f"/api/content/{item['id']}/").status_code == (204 if write == 200 else write)


def test_list_filters(tenant_a, client_for):
    api = client_for(tenant_a, "head")
    api.post("/api/content/", DOC, format="json")
    api.post("/api/content/", {"type": "text", "title": "FAQ", "text": "Ответы", "tags": ["faq"], "active": False},
             format="json")
    assert [c["title"] for c in api.get("/api/content/?active=true").json()] == ["Каталог"]
    assert [c["title"] for c in api.get("/api/content/?tag=faq").json()] == ["FAQ"]
    assert [c["title"] for c in api.get("/api/content/?q=катал").json()] == ["Каталог"]


def test_other_tenant_sees_nothing(tenant_a, tenant_b, client_for):
    item = client_for(tenant_a, "owner").post("/api/content/", DOC, format="json").json()
    other = client_for(tenant_b, "owner")
    assert other.get(f"/api/content/{item['id']}/").status_code == 404
    assert other.patch(f"/api/content/{item['id']}/", {"title": "x"}, format="json").status_code == 404
    assert other.delete(f"/api/content/{item['id']}/").status_code == 404
    assert other.get("/api/content/").json() == []
    # A token of tenant A is nobody on tenant B's host.
    stolen = client_for(tenant_a, "owner")
    stolen.defaults["HTTP_HOST"] = f"{tenant_b.slug}.localhost"
    assert stolen.get("/api/content/").status_code == 401
    with tenant_context(tenant_a):
        assert Content.objects.filter(pk=item["id"], title="Каталог").exists()


@pytest.mark.parametrize("body, key", [
    ({"type": "image", "title": "Фото"}, "url"),
    ({"type": "album", "title": "Альбом", "items": [{"url": "https://cdn.kz/1.jpg"}]}, "items"),
    ({"type": "text", "title": "Пусто", "text": " "}, "text"),
    ({"type": "gif", "title": "x", "url": "https://cdn.kz/a.gif"}, "type"),
    ({"type": "link", "url": "https://x.kz"}, "title"),
    ({"type": "link", "title": "x", "url": "not a url"}, "url"),
    ({**DOC, "stages": ["nowhere"]}, "stages"),
    ({**DOC, "temperatures": ["boiling"]}, "temperatures"),
    ({**DOC, "tags": "дом"}, "tags"),
    ({**DOC, "items": [{"caption": "без url"}]}, "items"),
])
def test_bad_input_is_400_naming_the_field(tenant_a, client_for, body, key):
    response = client_for(tenant_a, "owner").post("/api/content/", body, format="json")
    assert response.status_code == 400 and key in response.json(), response.content


def test_patch_keeps_the_rules(tenant_a, client_for):
    api = client_for(tenant_a, "owner")
    item = api.post("/api/content/", DOC, format="json").json()
    assert api.patch(f"/api/content/{item['id']}/", {"url": ""}, format="json").status_code == 400
    assert api.patch(f"/api/content/{item['id']}/", {"type": "album"}, format="json").status_code == 400
    assert api.get("/api/content/999999/").status_code == 404


def _item(**fields) -> Content:
    base = {"type": "link", "url": "https://x.kz", "title": fields.get("title", "item")}
    return Content.objects.create(**{**base, **fields})


def test_pick_ranks_by_stage_temperature_interests_and_never_repeats(tenant_a):
    with tenant_context(tenant_a):
        lead = client_writes("Хочу баню с террасой")
        lead_move(lead=lead, stage=stage_of_kind(StageKind.IN_DIALOG), actor=AI)
        lead_set_score(lead=lead, score=60, temperature="warm", reasons=[])
        lead.data = {"interests": ["баня"], "city": "Алматы", "has_project": True}
        lead.save()
        generic = _item(title="Общий")
        wrong_stage = _item(title="Для выигранных", stages=["won"])
        right = _item(title="Баня для тёплых", stages=["in_dialog"], temperatures=["warm"], tags=["баня"])
        project = _item(title="Проект", tags=["has_project"])
        english = _item(title="English", language="en", tags=["баня"])
        _item(title="Выключен", active=False, tags=["баня"])
        picked = content_pick(lead=lead, limit=10)
        assert [c.title for c in picked][:3] == ["Баня для тёплых", "Проект", "Общий"]
        assert picked[-1] == wrong_stage and english not in picked and len(picked) == 4
        content_send(lead=lead, content_id=right.pk, actor=AI)
        assert ContentDelivery.objects.filter(lead=lead, content=right).exists()
        assert right not in content_pick(lead=lead, limit=10)
        assert content_pick(lead=lead, limit=1) == [project]
        assert generic in content_pick(lead=lead, limit=3)


@pytest.mark.parametrize("ctype, fields, kind, check", [
    ("text", {"text": "Привет"}, "text", lambda m: m.text == "Привет"),
    ("image", {"url": "https://cdn.kz/a.jpg", "text": "Фасад"}, "image",
     lambda m: (m.media_url, m.caption) == ("https://cdn.kz/a.jpg", "Фасад")),
    ("album", {"items": [{"url": "https://cdn.kz/1.jpg"}, {"url": "https://cdn.kz/2.jpg"}]}, "album",
     lambda m: len(m.items) == 2),
    ("video", {"url": "https://cdn.kz/v.mp4"}, "video", lambda m: m.media_url.endswith("v.mp4")),
    ("document", {"url": "https://cdn.kz/d.pdf"}, "document", lambda m: m.media_url.endswith("d.pdf")),
    ("link", {"url": "https://x.kz", "text": "Сайт"}, "link", lambda m: (m.media_url, m.text) == ("https://x.kz",
                                                                                               "Сайт")),
    ("voice", {"url": "https://cdn.kz/v.ogg"}, "voice", lambda m: m.media_url.endswith("v.ogg")),
])
def test_content_send_every_type(tenant_a, ctype, fields, kind, check):
    with tenant_context(tenant_a):
        lead = client_writes("Покажите примеры")
        item = Content.objects.create(type=ctype, title=ctype, **fields)
        message = content_send(lead=lead, content_id=item.pk, actor=AI)
        assert message.kind == kind and check(message)
        assert message.purpose == "content" and message.author_kind == "ai" and message.meta["content_id"] == item.pk
        assert lead.events.filter(kind="content_sent").exists()


@pytest.mark.parametrize("bad", [999999, "abc", None])
def test_content_send_unknown_or_inactive_raises(tenant_a, bad):
    with tenant_context(tenant_a):
        lead = client_writes("?")
        with pytest.raises(ValueError):
            content_send(lead=lead, content_id=bad, actor=AI)
        off = _item(active=False)
        with pytest.raises(ValueError):
            content_send(lead=lead, content_id=off.pk, actor=AI)


def test_content_of_another_tenant_is_unknown(tenant_a, tenant_b):
    with tenant_context(tenant_b):
        foreign = _item(title="beta only")
    with tenant_context(tenant_a):
        Content.objects.filter(pk=foreign.pk).delete()  # make sure the id is free in alpha
        lead = client_writes("?")
        with pytest.raises(ValueError):
            content_send(lead=lead, content_id=foreign.pk, actor=AI)


CAMPAIGNS = [{"code": "ГАЙД", "keywords": ["guide", "чек-лист"], "steps": [{"after_minutes": 60, "text": "Ну как?"}]}]


@pytest.mark.parametrize("text, hit", [("Хочу ГАЙД", True), ("гайд пожалуйста", True), ("send the Guide", True),
                                       ("Дайте чек-лист", True), ("гайдлайн", False), ("Здравствуйте", False),
                                       ("", False)])
def test_campaign_match(text, hit):
    assert (campaign_match(text=text, campaigns=CAMPAIGNS) is not None) is hit


def test_campaign_takes_a_new_lead_once(tenant_a):
    configure(tenant_a, {"campaigns": [{**CAMPAIGNS[0], "source": "ads", "text": "Держите!"}]})
    with tenant_context(tenant_a):
        lead = client_writes("Хочу гайд")  # the inbound hook starts the campaign at once
        lead.refresh_from_db()
        assert (lead.campaign, lead.source) == ("ГАЙД", "ads")
        assert lead.messages.filter(purpose="onboarding").count() == 1
        assert lead.followups.filter(kind="onboarding", status="pending").count() == 1
        assert campaign_on_new_lead(lead=lead, text="Хочу гайд") is True  # the AI asking again: no second send
        assert lead.messages.filter(purpose="onboarding").count() == 1
        other = client_writes("Просто вопрос")
        assert campaign_on_new_lead(lead=other, text="Просто вопрос") is False
        assert other.campaign == ""


@pytest.mark.parametrize("doc, key", [
    ({"campaigns": [{"name": "x"}]}, "campaigns[0].code"),
    ({"campaigns": [{"code": "a b"}]}, "campaigns[0].code"),
    ({"campaigns": [{"code": "A", "steps": [{"after_minutes": 5}]}]}, "campaigns[0].steps[0].text"),
    ({"campaigns": [{"code": "A", "steps": [{"text": "x"}]}]}, "campaigns[0].steps[0].after_minutes"),
    ({"campaigns": [{"code": "A", "colour": "red"}]}, "campaigns[0].colour"),
])
def test_campaign_config_is_validated(doc, key):
    with pytest.raises(ConfigError) as error:
        validate(doc)
    assert error.value.key == key


def test_global_admin_shows_content_per_tenant(tenant_a, tenant_b):
    from django.db import connection

    from accounts.models import User

    connection.set_schema_to_public()
    User.objects.create_superuser("root@platform.test", "Root-pass-123!")
    with tenant_context(tenant_a):
        _item(title="Только у alpha")
    with tenant_context(tenant_b):
        _item(title="Только у beta")
    connection.set_schema_to_public()
    web = Client(HTTP_HOST="localhost")
    assert web.login(email="root@platform.test", password="Root-pass-123!") or \
        web.login(username="root@platform.test", password="Root-pass-123!")
    picker = web.get("/admin/followups/content/")
    assert picker.status_code == 200 and "alpha" in picker.content.decode()
    assert web.get("/admin/followups/content/?tenant=alpha").status_code == 302
    page = web.get("/admin/followups/content/").content.decode()
    assert "Только у alpha" in page and "Только у beta" not in page
    web.get("/admin/followups/content/?tenant=beta")
    page = web.get("/admin/followups/content/").content.decode()
    assert "Только у beta" in page and "Только у alpha" not in page
    with tenant_context(tenant_b):
        item = Content.objects.get(title="Только у beta")
    connection.set_schema_to_public()
    change = web.post(f"/admin/followups/content/{item.pk}/change/", {
        "type": "link", "title": "Изменено в админке", "text": "", "url": "https://x.kz", "items": "[]",
        "active": "on", "tags": "[]", "stages": "[]", "temperatures": "[]", "language": ""})
    assert change.status_code == 302, change.content.decode()[:2000]
    with tenant_context(tenant_b):
        assert Content.objects.get(pk=item.pk).title == "Изменено в админке"
    connection.set_schema_to_public()
    assert web.get("/admin/followups/content/?tenant=nope").status_code == 302


def test_a_patch_of_album_items_needs_each_items_url(tenant_a, client_for):
    api = client_for(tenant_a, "head")
    album = {"type": "album", "title": "Дома", "items": [{"url": "https://example.com/1.jpg"},
                                                         {"url": "https://example.com/2.jpg"}]}
    item = api.post("/api/content/", album, format="json").json()
    response = api.patch(f"/api/content/{item['id']}/", {"items": [{"caption": "без ссылки"},
                                                                   {"url": "https://example.com/3.jpg"}]},
                         format="json")
    assert response.status_code == 400 and "items" in response.json(), response.content
    assert [i["url"] for i in api.get(f"/api/content/{item['id']}/").json()["items"]] == [
        "https://example.com/1.jpg", "https://example.com/2.jpg"]
