"""Money in the PWA at phone width (issue 16): the deal amount edited on the card, the stage's total in the board's
column head following it, and the analytics tables with their CSV download."""
import re
from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django_tenants.utils import tenant_context
from playwright.sync_api import expect

from tests.browser.conftest import PHONE, fetch_status, shot
from tests.browser.helpers import card, lead_make, stages

pytestmark = [pytest.mark.browser, pytest.mark.live]


def test_amount_on_the_card_stage_totals_and_analytics_csv(browser, live_tenant, live_stack):
    from leads.models import Lead

    first = lead_make(live_tenant, name="Айгерим Сумма", kind="in_dialog", score=60, temperature="warm")
    second = lead_make(live_tenant, name="Бауыржан Бюджет", kind="in_dialog", score=50, temperature="warm")
    with tenant_context(live_tenant):
        Lead.objects.filter(pk=second).update(amount=Decimal("1000000"))
    connection.set_schema_to_public()
    stage = stages(live_tenant)["in_dialog"]

    page = browser.page(live_tenant, phone=True)
    total = page.get_by_test_id(f"column-amount-{stage}")
    expect(total).to_have_text(re.compile(r"1\s?млн\s?₸"))
    expect(card(page, second).get_by_test_id("card-amount")).to_have_text(re.compile(r"1\s000\s000\s₸"))

    card(page, first).click()
    page.get_by_test_id("tab-info").click()
    box = page.get_by_test_id("lead-amount-input")
    box.fill("два миллиона")
    page.get_by_test_id("lead-amount-save").click()
    expect(page.get_by_text("Сумма — это число")).to_be_visible()
    box.fill("2 500 000")
    page.get_by_test_id("lead-amount-save").click()
    expect(page.get_by_test_id("lead-amount-shown")).to_have_text(re.compile(r"2\s500\s000\s₸"))
    with tenant_context(live_tenant):
        lead = Lead.objects.get(pk=first)
        assert (lead.amount, lead.amount_by_person) == (Decimal("2500000.00"), True)
    connection.set_schema_to_public()
    shot(page, "amount-card-phone")
    page.get_by_test_id("panel-close").click()
    expect(total).to_have_text(re.compile(r"3,5\s?млн\s?₸"))
    expect(card(page, first).get_by_test_id("card-amount")).to_have_text(re.compile(r"2\s500\s000\s₸"))
    shot(page, "board-totals-phone")

    today = date.today()
    period = f"from={(today - timedelta(days=6)).isoformat()}&to={(today + timedelta(days=1)).isoformat()}"
    page.goto(live_stack.url(live_tenant, f"/analytics?{period}"))
    by_channel = page.get_by_test_id("an-table-money_by_channel")
    expect(by_channel).to_contain_text("WhatsApp")
    expect(page.get_by_test_id("an-table-cohort_funnel")).to_contain_text("AI ведёт диалог")
    by_channel.scroll_into_view_if_needed()
    shot(page, "analytics-money-phone")
    link = page.get_by_test_id("csv-money_by_channel")
    href = link.get_attribute("href")
    assert href.startswith("/api/analytics/export/money_by_channel/?") and "lang=ru" in href
    assert fetch_status(page, href) == 200
    head, csv_text = page.evaluate(
        """(p) => fetch(p, {credentials: 'same-origin'}).then((r) => r.arrayBuffer()).then((b) =>
             [Array.from(new Uint8Array(b).slice(0, 3)), new TextDecoder().decode(b)])""", href)
    assert head == [0xEF, 0xBB, 0xBF]  # the BOM Excel needs to read the Cyrillic as UTF-8
    assert csv_text.startswith("Канал,Заявки") and "whatsapp,2,0,0.00,3500000.00" in csv_text
    # the tables scroll inside their cards: the page itself is no wider than the phone
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
