"""The global admin's structured settings editors (issue 16): rows instead of raw JSON, each error in the cell it
names and in the admin's language, and a failed save keeps the secrets already typed (never the stored ones)."""
from __future__ import annotations

import re
from html.parser import HTMLParser

import pytest
from django.test import Client

from accounts.models import User
from tenants.models import Tenant
from tenants.services import tenant_config_get, tenant_config_import

PASSWORD = "Root-pass-2026"


@pytest.fixture
def admin_client(db):
    User.objects.create_superuser("root@platform.kz", PASSWORD)
    client = Client(HTTP_HOST="localhost")
    assert client.login(email="root@platform.kz", password=PASSWORD)
    return client


class FormValues(HTMLParser):
    """What a browser posts for the change form as shown: inputs, checked boxes, selected options, textareas;
    nothing inside a <template>."""

    def __init__(self):
        super().__init__()
        self.data: dict[str, list[str]] = {}
        self._template = 0
        self._select: str | None = None
        self._select_first: str | None = None
        self._selected = False
        self._textarea: str | None = None
        self._text = ""

    def _put(self, name: str, value: str) -> None:
        self.data.setdefault(name, []).append(value)

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "template":
            self._template += 1
        if self._template or "name" not in a and tag != "option":
            return
        if tag == "input":
            kind = a.get("type", "text")
            if kind in ("submit", "button", "file"):
                return
            if kind in ("checkbox", "radio"):
                if "checked" in a:
                    self._put(a["name"], a.get("value") or "on")
                return
            self._put(a["name"], a.get("value") or "")
        elif tag == "select":
            self._select, self._select_first, self._selected = a["name"], None, False
        elif tag == "option" and self._select:
            value = a.get("value", "")
            if self._select_first is None:
                self._select_first = value
            if "selected" in a and not self._selected:
                self._selected = True
                self._put(self._select, value)
        elif tag == "textarea":
            self._textarea, self._text = a["name"], ""

    def handle_endtag(self, tag):
        if tag == "template":
            self._template -= 1
        elif tag == "select" and self._select:
            if not self._selected and self._select_first is not None:
                self._put(self._select, self._select_first)
            self._select = None
        elif tag == "textarea" and self._textarea:
            self._put(self._textarea, self._text.lstrip("\n"))
            self._textarea = None

    def handle_data(self, data):
        if self._textarea:
            self._text += data


def _shown_form(client, tenant) -> dict[str, list[str]]:
    page = client.get(f"/admin/tenants/tenant/{tenant.pk}/change/").content.decode()
    page = page[page.index('id="tenant_form"'):]
    parser = FormValues()
    parser.feed(page)
    data = parser.data
    data.pop("_addanother", None), data.pop("_continue", None)
    return data


def _post(client, tenant, data, **extra):
    return client.post(f"/admin/tenants/tenant/{tenant.pk}/change/", data, **extra)


def _cell_error(page: str, cell: str) -> str:
    match = re.search(rf'<ul class="errorlist" data-cell="{re.escape(cell)}"><li>(.*?)</li>', page)
    assert match, f"no error at {cell}"
    return match.group(1)


RICH = {
    "ai": {"facts": [{"keywords": ["цена", "стоимость"], "text": "От 120 000 ₸ за м²", "text_en": "From 120,000",
                      "when": {"stage": "in_dialog"}}]},
    "qualification": [{"key": "city", "label": "Город", "type": "text", "required": True},
                      {"key": "urgency", "label": "Срок", "type": "choice", "choices": ["now", "month"],
                       "required": False, "hint": "когда"}],
    "first_contact": [{"type": "text", "text": "Здравствуйте{name_comma}!"},
                      {"type": "album", "items": [{"url": "https://x.kz/1.jpg", "caption": "Дом"}]}],
    "followups": {"steps": [{"after_minutes": 15, "text": "Актуально?"}, {"after_minutes": 0.5, "text": "Ещё?"}]},
    "reengagement": {"enabled": True, "after_days": 7, "every_days": 14, "window": {"start": "10:00", "end": "19:00"}},
    "campaigns": [{"code": "PDF-1", "keywords": ["каталог"], "active": False, "text": "Держите каталог",
                   "steps": [{"after_minutes": 60, "text": "Как вам?"}]}],
    "amocrm": {"stage_map": {"won": 142, "lost": 143}, "responsible_map": {"a@b.kz": 9001}},
}


def test_the_editors_show_rows_and_a_post_of_the_form_as_shown_changes_nothing(admin_client, tenant_a):
    tenant_config_import(tenant_a, RICH)
    before = tenant_config_get(Tenant.objects.get(pk=tenant_a.pk))
    page = admin_client.get(f"/admin/tenants/tenant/{tenant_a.pk}/change/").content.decode()
    assert 'name="followup_steps-0-after_minutes" value="15"' in page
    assert 'name="qualification-1-choices" value="now, month"' in page
    assert '<textarea name="followup_steps"' not in page and '<textarea name="qualification"' not in page
    data = _shown_form(admin_client, tenant_a)
    res = _post(admin_client, tenant_a, data)
    assert res.status_code == 302, re.findall(r'class="errorlist[^"]*"[^>]*>(.*?)</ul>', res.content.decode())
    after = tenant_config_get(Tenant.objects.get(pk=tenant_a.pk))
    for key in ("qualification", "first_contact", "followups", "reengagement", "campaigns", "amocrm"):
        assert after[key] == before[key], key
    assert after["ai"]["facts"] == before["ai"]["facts"]


def test_rows_are_edited_added_and_deleted(admin_client, tenant_a):
    data = _shown_form(admin_client, tenant_a)  # the default: two steps, one blank row
    count = int(data["followup_steps-count"][0])
    data["followup_steps-0-DELETE"] = ["on"]
    data["followup_steps-1-after_minutes"], data["followup_steps-1-text"] = ["30"], ["Через полчаса"]
    data[f"followup_steps-{count - 1}-after_minutes"] = ["90"]  # the blank row
    data[f"followup_steps-{count - 1}-text"] = ["Последний"]
    data["amo_stage_map-0-key"], data["amo_stage_map-0-value"] = ["won"], ["142"]
    assert _post(admin_client, tenant_a, data).status_code == 302
    config = tenant_config_get(Tenant.objects.get(pk=tenant_a.pk))
    assert config["followups"]["steps"] == [{"after_minutes": 30, "text": "Через полчаса"},
                                            {"after_minutes": 90, "text": "Последний"}]
    assert config["amocrm"]["stage_map"] == {"won": 142}


@pytest.mark.parametrize("lang, negative, number", [
    ("ru", "не может быть отрицательным", "должно быть числом"),
    ("en", "must not be negative", "must be a number"),
])
def test_an_error_shows_in_its_cell_in_the_admins_language(admin_client, tenant_a, lang, negative, number):
    before = Tenant.objects.get(pk=tenant_a.pk).config
    data = _shown_form(admin_client, tenant_a)
    data["followup_steps-1-after_minutes"] = ["-5"]
    res = _post(admin_client, tenant_a, data, HTTP_ACCEPT_LANGUAGE=lang)
    assert res.status_code == 200
    page = res.content.decode()
    assert negative in _cell_error(page, "followup_steps-1-after_minutes")
    assert "followups.steps[1].after_minutes" in page  # the setting's own line says which
    # a cell that does not even parse is marked before validation
    data["followup_steps-1-after_minutes"] = ["пятнадцать"]
    page = _post(admin_client, tenant_a, data, HTTP_ACCEPT_LANGUAGE=lang).content.decode()
    assert number in _cell_error(page, "followup_steps-1-after_minutes")
    assert 'value="пятнадцать"' in page  # what was typed stays to be corrected
    assert Tenant.objects.get(pk=tenant_a.pk).config == before


def test_errors_of_the_other_editors_land_in_their_cells(admin_client, tenant_a):
    data = _shown_form(admin_client, tenant_a)
    data["qualification-0-key"] = ["City Name"]
    page = _post(admin_client, tenant_a, data).content.decode()
    assert "lower_snake_case" in _cell_error(page, "qualification-0-key")
    data = _shown_form(admin_client, tenant_a)
    data["reengagement-0-window.start"] = ["25:00"]
    page = _post(admin_client, tenant_a, data).content.decode()
    assert "HH:MM" in _cell_error(page, "reengagement-0-window.start")
    data = _shown_form(admin_client, tenant_a)
    data["first_contact-0-type"], data["first_contact-0-text"] = ["image"], [""]
    page = _post(admin_client, tenant_a, data, HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "is required for a image step" in _cell_error(page, "first_contact-0-url")
    data = _shown_form(admin_client, tenant_a)
    data["campaigns-0-code"], data["campaigns-0-steps"] = ["X1"], ["[{bad json"]
    page = _post(admin_client, tenant_a, data).content.decode()
    assert "неверный JSON" in _cell_error(page, "campaigns-0-steps")


def test_a_failed_save_keeps_the_typed_secrets_and_never_shows_the_stored_ones(admin_client, tenant_a):
    tenant_config_import(tenant_a, {"channels": {"chatflow": {"api_url": "https://app.chatflow.kz/api/v1",
                                                              "token": "cf-stored-secret"}}})
    data = _shown_form(admin_client, tenant_a)
    assert not data.get("chatflow_token", [""])[0]  # the stored secret is not in the form
    data["ai_api_key"], data["tg_bot_token"] = ["sk-typed-now"], ["123:typed-bot-token"]
    data["quiet_start"] = ["25:61"]
    res = _post(admin_client, tenant_a, data)
    assert res.status_code == 200
    page = res.content.decode()
    assert 'name="ai_api_key" value="sk-typed-now"' in page.replace(' id="id_ai_api_key"', "")
    assert "123:typed-bot-token" in page
    assert "cf-stored-secret" not in page
    # corrected and saved: the typed secrets are stored, and the page shows none of them again
    fixed = _shown_form(admin_client, tenant_a)
    fixed["ai_api_key"], fixed["tg_bot_token"] = ["sk-typed-now"], ["123:typed-bot-token"]
    assert _post(admin_client, tenant_a, fixed).status_code == 302
    config = tenant_config_get(Tenant.objects.get(pk=tenant_a.pk))
    assert config["ai"]["api_key"] == "sk-typed-now" and config["channels"]["chatflow"]["token"] == "cf-stored-secret"
    page = admin_client.get(f"/admin/tenants/tenant/{tenant_a.pk}/change/").content.decode()
    assert "sk-typed-now" not in page and "typed-bot-token" not in page


def test_the_setting_posted_whole_as_json_still_works(admin_client, tenant_a):
    from tests.platform.test_admin import _change_form

    data = _change_form(admin_client, tenant_a)
    data["followup_steps"] = '[{"after_minutes": 5, "text": "Ну как?"}]'
    assert _post(admin_client, tenant_a, data).status_code == 302
    assert tenant_config_get(Tenant.objects.get(pk=tenant_a.pk))["followups"]["steps"] == [
        {"after_minutes": 5, "text": "Ну как?"}]
