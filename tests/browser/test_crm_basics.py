"""CRM basics on a phone (390 px), in Russian and English: a lead entered by hand (and a duplicate phone offering
the existing lead), a small CSV imported through its preview, tags put on several rows at once from the list."""
from __future__ import annotations

import pytest
from django.db import connection
from django_tenants.utils import tenant_context
from playwright.sync_api import expect

from tests.browser.conftest import shot
from tests.browser.helpers import lead_get, lead_make

pytestmark = [pytest.mark.browser, pytest.mark.live]

CSV = ("Имя;Телефон;Город;Теги\n"
       "Импорт Один;+7 705 000 11 22;Алматы;выставка\n"
       "Импорт Два;+7 705 000 33 44;;\n"
       "Импорт Один дубль;77050001122;Астана;дом\n"
       "Без телефона плохой;12;;\n").encode("cp1251")


def _lead_by_phone(tenant, phone: str):
    from leads.models import Lead

    with tenant_context(tenant):
        lead = Lead.objects.filter(phone=phone).first()
    connection.set_schema_to_public()
    return lead


def test_create_import_and_bulk_tag_on_a_phone(browser, live_tenant, live_stack):
    page = browser.page(live_tenant, phone=True, path="/leads")

    # A lead by hand: the form says the AI will not write first; the phone is stored as E.164 digits.
    page.get_by_test_id("lead-new").click()
    dialog = page.get_by_test_id("lead-create-dialog")
    expect(dialog.get_by_test_id("create-no-greeting")).to_contain_text("AI не пишет первым")
    dialog.get_by_test_id("create-name").fill("Звонок с улицы")
    dialog.get_by_test_id("create-phone").fill("+7 (701) 999-88-77")
    dialog.get_by_test_id("create-city").fill("Шымкент")
    dialog.get_by_test_id("create-tags").fill("VIP, дом")
    shot(page, "crm-create-phone")
    dialog.get_by_test_id("create-submit").click()
    expect(page.get_by_test_id("lead-panel")).to_be_visible()
    expect(page.get_by_test_id("lead-name")).to_have_text("Звонок с улицы")
    page.get_by_test_id("tab-info").click()  # the phone shows one tab of the card at a time
    expect(page.get_by_test_id("tag-vip")).to_be_visible()
    expect(page.get_by_test_id("tag-дом")).to_be_visible()
    created = _lead_by_phone(live_tenant, "77019998877")
    assert created is not None and created.city == "Шымкент" and created.tags == ["vip", "дом"]
    page.get_by_test_id("panel-close").click()

    # The same phone again: the existing lead is offered instead of a second one.
    page.get_by_test_id("lead-new").click()
    dialog = page.get_by_test_id("lead-create-dialog")
    dialog.get_by_test_id("create-phone").fill("77019998877")
    dialog.get_by_test_id("create-submit").click()
    expect(dialog.get_by_test_id("create-duplicate")).to_contain_text("уже есть")
    dialog.get_by_test_id("create-open-existing").click()
    expect(page.get_by_test_id("lead-name")).to_have_text("Звонок с улицы")
    page.get_by_test_id("panel-close").click()

    # CSV import through the preview: Windows-1251, semicolons, one in-file duplicate, one bad row.
    page.get_by_test_id("lead-import").click()
    dialog = page.get_by_test_id("import-dialog")
    dialog.get_by_test_id("import-file").set_input_files(files=[{"name": "leads.csv", "mimeType": "text/csv",
                                                                "buffer": CSV}])
    dialog.get_by_test_id("import-preview").click()
    expect(dialog.get_by_test_id("import-counts")).to_contain_text("Новых: 2")
    expect(dialog.get_by_test_id("import-counts")).to_contain_text("дубли в файле: 1")
    expect(dialog.get_by_test_id("map-phone")).to_have_value("1")
    expect(dialog.get_by_test_id("import-sample")).to_contain_text("Импорт Один")
    shot(page, "crm-import-preview-phone")
    dialog.get_by_test_id("import-commit").click()
    expect(dialog).to_have_count(0)
    one = _lead_by_phone(live_tenant, "77050001122")
    assert one is not None and one.city == "Алматы" and one.tags == ["выставка", "дом"]
    assert _lead_by_phone(live_tenant, "77050003344") is not None

    # Bulk tag from the list, in English: select two rows, add a tag in one call.
    other = lead_make(live_tenant, name="Bulk Other", score=1)
    page.get_by_test_id("lang-switch").click()
    page.get_by_test_id("view-list").click()
    expect(page.get_by_test_id("lead-new")).to_contain_text("New lead")
    rows = page.locator("[data-testid^=list-row-]")
    expect(rows).to_have_count(4)
    page.get_by_test_id(f"select-{created.pk}").check()
    page.get_by_test_id(f"select-{other}").check()
    bar = page.get_by_test_id("bulk-bar")
    expect(bar.get_by_test_id("bulk-count")).to_have_text("Selected: 2")
    bar.get_by_test_id("bulk-tag").fill("Priority")
    shot(page, "crm-bulk-phone-en")
    bar.get_by_test_id("bulk-apply").click()
    expect(bar).to_have_count(0)
    page.get_by_test_id("filter-tag").fill("priority")
    expect(rows).to_have_count(2)
    assert "priority" in lead_get(live_tenant, other).tags and "priority" in lead_get(live_tenant, created.pk).tags
    # The page is as wide as the phone: nothing forces a horizontal scroll of the whole document.
    assert page.evaluate("document.documentElement.scrollWidth") <= 390 + 1
