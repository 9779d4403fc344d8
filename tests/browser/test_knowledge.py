"""The knowledge base screen (issue 14): an owner adds and edits a Q&A inline (RU + EN), the AI's base has it; a
manager sees the base read-only and the API refuses their edit; the screen fits a 390 px phone."""

import re

import pytest
from django.db import connection
from django_tenants.utils import tenant_context
from playwright.sync_api import expect

from knowledge.models import QA
from tests.browser.conftest import PHONE, shot

pytestmark = [pytest.mark.browser, pytest.mark.live]


def _qas(tenant) -> list[tuple[str, str, str, list]]:
    with tenant_context(tenant):
        rows = list(QA.objects.order_by("id").values_list("question", "answer", "answer_en", "keywords"))
    connection.set_schema_to_public()
    return rows


def test_owner_adds_a_qa_and_a_manager_cannot_edit(browser, live_tenant, live_stack):
    page = browser.page(live_tenant, path="/knowledge")
    expect(page.get_by_test_id("kb-tab-qa")).to_be_visible()
    expect(page.get_by_test_id("nav-knowledge")).to_be_visible()
    page.get_by_test_id("kb-add").click()
    form = page.get_by_test_id("kb-form")
    form.locator("[name=question]").fill("Какие окна ставите?")
    form.locator("[name=answer]").fill("Пластиковые REHAU, двухкамерный стеклопакет.")
    form.locator("[name=answer_en]").fill("REHAU PVC, double glazing.")
    form.locator("[name=keywords]").fill("Окна, стеклопакет")
    page.get_by_test_id("kb-save").click()
    card = page.locator("[data-testid^=kb-qa-]")
    expect(card).to_have_count(1)
    expect(card).to_contain_text("Пластиковые REHAU")
    expect(card).to_contain_text("#окна #стеклопакет")
    assert _qas(live_tenant) == [
        (
            "Какие окна ставите?",
            "Пластиковые REHAU, двухкамерный стеклопакет.",
            "REHAU PVC, double glazing.",
            ["окна", "стеклопакет"],
        )
    ]

    # inline edit, then a price on the next tab
    card.get_by_test_id("kb-edit").click()
    page.get_by_test_id("kb-form").locator("[name=answer]").fill("Деревянные евроокна.")
    page.get_by_test_id("kb-save").click()
    expect(card).to_contain_text("Деревянные евроокна.")
    page.get_by_test_id("kb-tab-prices").click()
    page.get_by_test_id("kb-add").click()
    form = page.get_by_test_id("kb-form")
    form.locator("[name=item]").fill("Дом под ключ")
    form.locator("[name=unit]").fill("м²")
    form.locator("[name=price_from]").fill("160000")
    form.locator("[name=price_to]").fill("220 000")
    page.get_by_test_id("kb-save").click()
    expect(page.locator("[data-testid^=kb-prices-]")).to_contain_text("160 000–220 000 KZT / м²")

    # English UI
    page.get_by_test_id("lang-switch").click()
    expect(page.get_by_test_id("kb-tab-qa")).to_have_text("Q&A 1")

    # a manager: read-only, no nav entry, and the API refuses a write
    manager = browser.page(live_tenant, role="manager", path="/knowledge")
    expect(manager.locator("[data-testid^=kb-qa-]")).to_contain_text("Деревянные евроокна.")
    expect(manager.get_by_test_id("kb-readonly")).to_be_visible()
    expect(manager.get_by_test_id("kb-add")).to_have_count(0)
    expect(manager.get_by_test_id("kb-edit")).to_have_count(0)
    expect(manager.get_by_test_id("nav-knowledge")).to_have_count(0)
    qa_id = _qa_id(live_tenant)
    status = manager.evaluate(
        """async (id) => {
             const csrf = (document.cookie.match(/(?:^|; )csrftoken=([^;]*)/) || [])[1] || '';
             const r = await fetch(`/api/knowledge/qa/${id}/`, {method: 'PATCH', credentials: 'same-origin',
               headers: {'Content-Type': 'application/json', 'X-CSRFToken': decodeURIComponent(csrf)},
               body: JSON.stringify({answer: 'взлом'})});
             return r.status;
           }""",
        qa_id,
    )
    assert status == 403
    assert _qas(live_tenant)[0][1] == "Деревянные евроокна."


def _qa_id(tenant) -> int:
    with tenant_context(tenant):
        pk = QA.objects.values_list("id", flat=True).get()
    connection.set_schema_to_public()
    return pk


def test_knowledge_screen_fits_a_phone(browser, live_tenant, live_stack):
    page = browser.page(live_tenant, phone=True, path="/knowledge")
    page.get_by_test_id("kb-add").click()
    form = page.get_by_test_id("kb-form")
    form.locator("[name=question]").fill("Сколько строится дом?")
    form.locator("[name=answer]").fill("Коробка — 3–4 недели, под ключ — 2,5–4 месяца.")
    page.get_by_test_id("kb-save").click()
    expect(page.locator("[data-testid^=kb-qa-]")).to_have_count(1)
    for tab in ("qa", "prices", "delivery", "terms"):
        expect(page.get_by_test_id(f"kb-tab-{tab}")).to_be_in_viewport()
    # on a phone the settings pages sit behind "More", which shows where we are
    expect(page.get_by_test_id("nav-more")).to_be_in_viewport()
    expect(page.get_by_test_id("nav-more")).to_have_class(re.compile(r"\bactive\b"))
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    page.get_by_test_id("kb-tab-delivery").click()
    page.get_by_test_id("kb-add").click()
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    shot(page, "knowledge-390")
