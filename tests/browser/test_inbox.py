"""The inbox view on a phone (390 px), in Russian and English: the quick filters and search on the board, the
"client is waiting" timer and unread badge on cards (the badge goes once the card is opened), "Мои задачи" grouped
overdue / today / upcoming on the company's clock with done and open-the-lead, and the assignment page for owners
only."""
from __future__ import annotations

import re
from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest
from django.db import connection
from django.utils import timezone
from django_tenants.utils import tenant_context
from playwright.sync_api import expect

from tests.browser.conftest import PHONE, shot
from tests.browser.helpers import card, configure, lead_make

pytestmark = [pytest.mark.browser, pytest.mark.live]


def client_waits(tenant, pk: int, *, minutes: int, messages: int) -> None:
    from leads.models import Lead

    with tenant_context(tenant):
        Lead.objects.filter(pk=pk).update(client_waiting_since=timezone.now() - timedelta(minutes=minutes),
                                          inbound_count=messages)
    connection.set_schema_to_public()


def no_page_overflow(page) -> None:
    width = page.evaluate("() => document.documentElement.scrollWidth")
    assert width <= PHONE["width"], f"the page is {width}px wide on a {PHONE['width']}px phone"


def test_board_filters_search_waiting_timer_and_unread_on_a_phone(browser, live_tenant):
    waiting = lead_make(live_tenant, name="Айгерим Ждёт", assignee="manager", score=60, text="Сколько стоит?")
    client_waits(live_tenant, waiting, minutes=20, messages=2)
    hot = lead_make(live_tenant, name="Борис Горячий", temperature="hot", score=90, text="Звоните")
    quiet = lead_make(live_tenant, name="Виктор Тихий", score=10)
    page = browser.page(live_tenant, role="manager", phone=True)

    timer = card(page, waiting).get_by_test_id("client-waiting")
    expect(timer).to_contain_text(re.compile(r"Клиент ждёт 2\d мин"))
    expect(card(page, waiting).get_by_test_id("unread-badge")).to_have_text("2")
    expect(card(page, quiet).get_by_test_id("client-waiting")).to_have_count(0)
    no_page_overflow(page)
    shot(page, "inbox-board-phone-ru")

    page.get_by_test_id("inbox-waiting").click()
    expect(page).to_have_url(re.compile(r"only=waiting"))
    expect(card(page, hot)).to_have_count(0)
    expect(card(page, waiting)).to_be_visible()
    page.get_by_test_id("inbox-waiting").click()
    page.get_by_test_id("inbox-unassigned").click()
    expect(card(page, waiting)).to_have_count(0)
    expect(card(page, quiet)).to_have_count(1)
    page.get_by_test_id("inbox-hot").click()  # unassigned and hot
    expect(card(page, quiet)).to_have_count(0)
    expect(card(page, hot)).to_have_count(1)
    page.get_by_test_id("inbox-mine").click()  # mine replaces unassigned: mine and hot is nobody here
    expect(page.get_by_test_id("board-nothing")).to_be_visible()
    page.get_by_test_id("inbox-mine").click()
    page.get_by_test_id("inbox-hot").click()

    page.get_by_test_id("inbox-q").fill("Тихий")
    expect(page).to_have_url(re.compile(r"q="))
    expect(card(page, quiet)).to_have_count(1)
    expect(card(page, waiting)).to_have_count(0)
    page.get_by_test_id("inbox-q").fill("")
    expect(card(page, waiting)).to_have_count(1)

    # opening the card reads it: the badge goes, on the board too
    with page.expect_response(lambda r: r.url.endswith(f"/api/leads/{waiting}/read/")) as read:
        card(page, waiting).click()
    assert read.value.status == 200
    expect(page).to_have_url(re.compile(rf"/leads/{waiting}"))
    expect(page.get_by_test_id("lead-panel")).to_be_visible()
    page.go_back()
    expect(card(page, waiting)).to_be_visible()
    expect(card(page, waiting).get_by_test_id("unread-badge")).to_have_count(0)

    page.get_by_test_id("lang-switch").click()
    expect(page.get_by_test_id("inbox-waiting")).to_contain_text("Waiting")
    expect(card(page, waiting).get_by_test_id("client-waiting")).to_contain_text(re.compile(r"Client waiting 2\d min"))
    no_page_overflow(page)
    shot(page, "inbox-board-phone-en")
    # managers have no assignment settings
    expect(page.get_by_test_id("nav-assignment")).to_have_count(0)


def _zone_away_from_midnight() -> str:
    """A time zone where it is now between 02:00 and 20:00, so "today in half an hour" is still today there."""
    for name in ("Asia/Almaty", "Europe/Moscow", "UTC", "America/New_York", "Asia/Tokyo", "Pacific/Auckland"):
        if 2 <= timezone.now().astimezone(ZoneInfo(name)).hour < 20:
            return name
    return "UTC"


def test_my_tasks_on_a_phone_grouped_on_the_company_clock(browser, live_tenant):
    from accounts.models import User
    from tasks.models import Task

    zone = _zone_away_from_midnight()
    configure(live_tenant, {"timezone": zone})
    lead = lead_make(live_tenant, name="Дамир Задачи", assignee="manager")
    now = timezone.now()
    with tenant_context(live_tenant):
        manager = User.objects.get(email=f"manager@{live_tenant.slug}.test")
        made = {key: Task.objects.create(lead_id=lead, kind=kind, title=title, due_at=due, assignee=manager).pk
                for key, kind, title, due in [
                    ("overdue", "call", "Перезвонить", now - timedelta(hours=1)),
                    ("today", "meeting", "Встреча на объекте", now + timedelta(minutes=30)),
                    ("upcoming", "call", "Уточнить смету", now + timedelta(days=2)),
                ]}
    connection.set_schema_to_public()
    page = browser.page(live_tenant, role="manager", phone=True)
    page.get_by_test_id("nav-tasks").click()
    expect(page.get_by_test_id("my-tasks")).to_be_visible()
    for key, pk in made.items():
        expect(page.get_by_test_id(f"tasks-{key}").get_by_test_id(f"my-task-{pk}")).to_be_visible()
    expected = (now + timedelta(minutes=30)).astimezone(ZoneInfo(zone)).strftime("%H:%M")
    expect(page.get_by_test_id(f"my-task-{made['today']}").get_by_test_id("task-due-at")).to_have_text(expected)
    expect(page.get_by_test_id("tasks-zone")).to_contain_text(zone)
    expect(page.get_by_test_id("tasks-overdue")).to_contain_text("Просрочено")
    no_page_overflow(page)
    shot(page, "my-tasks-phone-ru")

    page.get_by_test_id(f"my-task-done-{made['overdue']}").click()
    expect(page.get_by_test_id(f"my-task-{made['overdue']}")).to_have_count(0)
    with tenant_context(live_tenant):
        assert Task.objects.get(pk=made["overdue"]).done_at is not None
    connection.set_schema_to_public()

    page.get_by_test_id("lang-switch").click()
    expect(page.get_by_test_id("tasks-today")).to_contain_text("Today")
    expect(page.get_by_test_id("tasks-upcoming")).to_contain_text("Upcoming")
    no_page_overflow(page)
    shot(page, "my-tasks-phone-en")
    page.get_by_test_id(f"task-lead-{made['today']}").click()
    expect(page).to_have_url(re.compile(rf"/leads/{lead}"))


def test_the_owner_sets_assignment_and_a_manager_cannot(browser, live_tenant):
    page = browser.page(live_tenant, role="owner", phone=True)
    expect(page.get_by_test_id("nav-assignment")).to_be_hidden()  # the phone's bar: behind "More"
    page.get_by_test_id("nav-more").click()
    page.get_by_test_id("more-assignment").click()
    expect(page.get_by_test_id("assignment-page")).to_be_visible()
    expect(page.get_by_test_id("assign-managers")).to_contain_text(f"Manager {live_tenant.slug}")
    page.get_by_test_id("assign-mode-rules").check()
    page.get_by_test_id("assign-add-rule").click()
    page.get_by_test_id("assign-save").click()  # a rule with no condition and nobody: the server says why
    expect(page.get_by_test_id("assign-error")).to_be_visible()
    page.get_by_test_id("assign-rule-city-0").fill("Алматы")
    page.get_by_test_id("assign-rule-user-0").select_option(label=f"Manager2 {live_tenant.slug}")
    page.get_by_test_id("assign-when-call_request").check()
    page.get_by_test_id("assign-save").click()
    expect(page.get_by_test_id("toast-info")).to_be_visible()  # saved: the answer came back
    expect(page.get_by_test_id("assign-error")).to_have_count(0)
    no_page_overflow(page)

    from leads.models import AssignmentSettings

    with tenant_context(live_tenant):
        found = AssignmentSettings.objects.get()
        assert (found.mode, found.when, found.rules[0]["city"]) == ("rules", "call_request", "Алматы")
    connection.set_schema_to_public()

    manager = browser.page(live_tenant, role="manager", phone=True, path="/assignment")
    expect(manager.get_by_test_id("no-access")).to_be_visible()
