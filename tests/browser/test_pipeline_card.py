"""The lead card in words (issue 14): the manager's call task reads "Позвонить завтра в 11:00", the timeline is
sentences with no JSON, keys or e-mails, score reasons follow the UI language, a stage moved by hand shows its pin,
and the stages the AI moves leads into offer no delete."""

import pytest
from django_tenants.utils import tenant_context
from playwright.sync_api import expect

from tests.browser.helpers import card, configure, lead_make, stages

pytestmark = [pytest.mark.browser, pytest.mark.live]


def test_the_card_says_the_task_the_timeline_and_the_pin_in_words(browser, live_tenant, live_stack):
    from aiagent.tools import ToolRunner
    from leads.models import Lead

    configure(live_tenant, {"timezone": "UTC"})  # the browser's zone here, so the words match the wall clock
    lead_id = lead_make(live_tenant, name="Марат Звонок", kind="in_dialog", score=40, temperature="warm")
    with tenant_context(live_tenant):
        lead = Lead.objects.get(pk=lead_id)
        assert ToolRunner(lead=lead, fields=[], timezone="UTC").run("request_call", {"preferred_time": "завтра в 11"})[
            "ok"
        ]
        Lead.objects.filter(pk=lead_id).update(
            score_reasons=[
                {
                    "points": 20,
                    "key": "call_request",
                    "params": {},
                    "reason": "Просит звонок",
                    "quote": "наберите завтра",
                }
            ]
        )
    ids = stages(live_tenant)

    page = browser.page(live_tenant)
    card(page, lead_id).click()
    panel = page.get_by_test_id("lead-panel")
    expect(panel).to_be_visible()
    expect(page.get_by_test_id("lead-tasks")).to_contain_text("Позвонить завтра в 11:00")
    timeline = page.get_by_test_id("timeline").first
    expect(timeline).to_contain_text("Клиент просит позвонить завтра в 11:00")
    for raw in ('{"', "preferred_time", "call_requested", "@"):
        expect(timeline).not_to_contain_text(raw)
    expect(page.get_by_test_id("score-reasons")).to_contain_text("Просит звонок")

    page.get_by_test_id("lead-stage").select_option(str(ids["complete"]))
    expect(page.get_by_test_id("lead-pin")).to_contain_text("Этап закреплён")
    expect(timeline).to_contain_text("Этап: «AI ведёт диалог» → «Полные данные»")
    page.get_by_test_id("panel-close").click()

    page.get_by_test_id("lang-switch").click()
    card(page, lead_id).click()
    expect(page.get_by_test_id("lead-tasks")).to_contain_text("Call tomorrow at 11:00")
    expect(page.get_by_test_id("score-reasons")).to_contain_text("Asks for a call")
    expect(page.get_by_test_id("timeline").first).to_contain_text("The client asks for a call tomorrow at 11:00")
    expect(page.get_by_test_id("lead-pin")).to_contain_text("Stage pinned by")
    page.locator("[data-testid^=task-done-]").first.click()
    expect(page.get_by_test_id("lead-tasks")).to_contain_text("No tasks")
    expect(page.get_by_test_id("timeline").first).to_contain_text("Task done: Call tomorrow at 11:00")
    page.get_by_test_id("panel-close").click()
    page.get_by_test_id("lang-switch").click()

    page.get_by_test_id("nav-stages").click()
    for kind in ("new", "in_dialog", "requests_call", "incomplete", "complete"):
        expect(page.get_by_test_id(f"stage-delete-{ids[kind]}")).to_have_count(0)
        expect(page.get_by_test_id(f"stage-kept-{ids[kind]}")).to_be_visible()
    expect(page.get_by_test_id(f"stage-delete-{ids['won']}")).to_be_visible()
    assert not browser.errors, browser.errors
