"""List filters in the URL, every page with real data, the phone-sized layout, and a 2,000-card board."""
import re

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import PHONE, shot
from tests.browser.helpers import card, column, lead_get, lead_make, phone, stages

pytestmark = [pytest.mark.browser, pytest.mark.live]


def test_list_filters_live_in_the_url_and_a_shared_url_shows_the_same(browser, live_tenant, live_stack):
    hot = lead_make(live_tenant, name="Горячий Алматы", temperature="hot", score=90, city="Алматы")
    hot2 = lead_make(live_tenant, name="Горячий Астана", temperature="hot", score=80, city="Астана",
                     assignee="manager")
    warm = lead_make(live_tenant, name="Тёплый Алматы", temperature="warm", score=50, city="Алматы")
    cold = lead_make(live_tenant, name="Холодный", temperature="cold", score=5, channel="telegram")
    page = browser.page(live_tenant, path="/leads?view=list")
    expect(page.get_by_test_id("list-count")).to_have_text("Найдено: 4")
    rows = page.locator("[data-testid^=list-row-]")
    expect(rows).to_have_count(4)
    # default ordering: score, highest first
    assert [r.get_attribute("data-testid") for r in rows.all()] == [f"list-row-{i}" for i in (hot, hot2, warm, cold)]

    page.get_by_test_id("filter-temperature").select_option("hot")
    expect(page).to_have_url(re.compile(r"[?&]temperature=hot"))
    expect(rows).to_have_count(2)
    page.get_by_test_id("filter-q").fill("Алматы")
    expect(page).to_have_url(re.compile(r"[?&]q=%D0%90%D0%BB%D0%BC%D0%B0%D1%82%D1%8B|q=Алматы"))
    expect(rows).to_have_count(1)
    expect(page.get_by_test_id(f"list-row-{hot}")).to_be_visible()
    shared = page.url

    page.reload()
    expect(page.get_by_test_id("filter-temperature")).to_have_value("hot")
    expect(page.get_by_test_id("filter-q")).to_have_value("Алматы")
    expect(rows).to_have_count(1)

    # the same URL opened by a colleague (another session) shows the same results
    other = browser.page(live_tenant, role="head", path=None)
    other.goto(shared)
    expect(other.locator("[data-testid^=list-row-]")).to_have_count(1)
    expect(other.get_by_test_id(f"list-row-{hot}")).to_be_visible()

    # more filters: assignee, channel, ordering; reset clears the URL
    page.get_by_test_id("filter-reset").click()
    expect(rows).to_have_count(4)
    assert "temperature" not in page.url and "q=" not in page.url
    page.get_by_test_id("filter-assignee").select_option(label=f"Manager {live_tenant.slug}")
    expect(rows).to_have_count(1)
    expect(page.get_by_test_id(f"list-row-{hot2}")).to_be_visible()
    page.get_by_test_id("filter-reset").click()
    page.get_by_test_id("filter-channel").select_option("telegram")
    expect(page).to_have_url(re.compile(r"channel=telegram"))
    expect(rows).to_have_count(1)
    page.get_by_test_id("filter-reset").click()
    page.get_by_test_id("filter-ordering").select_option("score")
    expect(page).to_have_url(re.compile(r"ordering=score"))
    expect(rows.first).to_have_attribute("data-testid", f"list-row-{cold}")

    # a row opens the card; closing it keeps the filters
    rows.first.click()
    expect(page.get_by_test_id("lead-panel")).to_be_visible()
    expect(page).to_have_url(re.compile(rf"/leads/{cold}\?.*ordering=score"))
    page.get_by_test_id("panel-close").click()
    expect(page).to_have_url(re.compile(r"/leads\?.*ordering=score"))
    expect(page.get_by_test_id("lead-panel")).to_have_count(0)


def test_every_page_renders_with_real_data(browser, live_tenant):
    lead_id = lead_make(live_tenant, name="Все Страницы", temperature="warm", score=45, city="Шымкент",
                        text="Хочу дом")
    page = browser.page(live_tenant, path="/leads?view=list")
    expect(page.get_by_test_id(f"list-row-{lead_id}")).to_be_visible()

    page.get_by_test_id(f"list-row-{lead_id}").click()
    panel = page.get_by_test_id("lead-panel")
    expect(panel.get_by_test_id("lead-name")).to_have_text("Все Страницы")
    # the tenant's qualification fields come from the card's `fields`
    expect(panel.locator("[data-testid^=qual-]").first).to_be_attached()
    expect(panel.get_by_test_id("lead-field-city")).to_have_value("Шымкент")
    panel.get_by_test_id("lead-field-city").fill("Караганда")
    panel.get_by_test_id("lead-save").click()
    expect(page.get_by_test_id("toast-info")).to_be_visible()
    assert lead_get(live_tenant, lead_id).city == "Караганда"
    page.get_by_test_id("panel-close").click()

    page.get_by_test_id("nav-team").click()
    expect(page.get_by_test_id("team")).to_contain_text(f"manager@{live_tenant.slug}.test")
    page.get_by_test_id("team-email").fill(f"new@{live_tenant.slug}.test")
    page.get_by_test_id("team-name").fill("Новый Менеджер")
    page.get_by_test_id("team-password").fill("Very-strong-pass-42")
    page.get_by_test_id("team-submit").click()
    expect(page.get_by_test_id("team")).to_contain_text(f"new@{live_tenant.slug}.test")

    page.get_by_test_id("nav-stages").click()
    expect(page.locator("[data-testid^=stage-row-]")).to_have_count(7)
    page.get_by_test_id("stage-new-name").fill("Замер")
    page.get_by_test_id("stage-add").click()
    expect(page.locator("[data-testid^=stage-row-]")).to_have_count(8)

    page.get_by_test_id("nav-content").click()
    expect(page.get_by_test_id("content")).to_be_visible()
    expect(page.get_by_test_id("content")).not_to_contain_text("Ошибка")

    page.get_by_test_id("nav-analytics").click()
    expect(page.get_by_test_id("analytics").locator(".kpi").first).to_be_visible()
    expect(page.get_by_test_id("analytics")).to_contain_text("Воронка")
    expect(page.get_by_test_id("analytics")).not_to_contain_text("Ошибка")

    page.get_by_test_id("nav-sandbox").click()
    expect(page.get_by_test_id("sandbox")).to_be_visible()

    # the board shows the new stage as a column, in English as well
    page.get_by_test_id("nav-leads").click()
    expect(page.get_by_text("Замер").first).to_be_visible()
    page.get_by_test_id("lang-switch").click()
    expect(page.get_by_test_id("nav-leads")).to_contain_text("Leads")
    page.get_by_test_id("lang-switch").click()
    expect(page.get_by_test_id("nav-leads")).to_contain_text("Заявки")


def test_phone_sized_board_card_and_chat_are_usable(browser, live_tenant, worker):
    ids = stages(live_tenant)
    lead_id = lead_make(live_tenant, name="Мобильный Клиент", temperature="hot", score=80, city="Алматы",
                        channel="sandbox", text="Добрый день, нужен дом 8×10")
    lead_make(live_tenant, name="Второй В Диалоге", kind="in_dialog", score=30, text="Спасибо")
    page = browser.page(live_tenant, role="manager", phone=True)
    expect(card(page, lead_id)).to_be_visible()
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE["width"], f"the page scrolls sideways on a phone ({width}px)"
    box = card(page, lead_id).bounding_box()
    assert box and box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"]
    shot(page, "board-mobile")

    # columns are swiped sideways: the next column comes into view
    board = page.get_by_test_id("board")
    board.evaluate("el => el.scrollBy({left: el.clientWidth, behavior: 'instant'})")
    expect(column(page, ids["in_dialog"])).to_be_in_viewport()

    board.evaluate("el => el.scrollTo({left: 0, behavior: 'instant'})")
    card(page, lead_id).tap()
    panel = page.get_by_test_id("lead-panel")
    expect(panel).to_be_visible()
    pbox = panel.bounding_box()
    assert pbox and pbox["width"] <= PHONE["width"] + 1
    expect(panel.get_by_test_id("chat")).to_be_visible()
    chat = panel.get_by_test_id("chat")
    chat.get_by_test_id("chat-input").fill("Здравствуйте! Перезвоню через 5 минут.")
    expect(chat.get_by_test_id("chat-send")).to_be_in_viewport()
    chat.get_by_test_id("chat-send").tap()
    expect(chat.locator("[data-author=user]")).to_have_count(1)
    expect(panel.get_by_test_id("handler-badge")).to_have_attribute("data-handler", "human")
    shot(page, "card-mobile")
    panel.get_by_test_id("tab-info").tap()
    expect(panel.get_by_test_id("lead-stage")).to_be_visible()
    panel.get_by_test_id("panel-close").tap()
    expect(panel).to_have_count(0)

    page.get_by_test_id("nav-sandbox").tap()
    sandbox = page.get_by_test_id("sandbox")
    expect(sandbox).to_be_visible()
    page.get_by_test_id("sandbox-phone").fill(phone())
    page.get_by_test_id("sandbox-input").fill("Привет! Сколько стоит баня 6×4?")
    page.get_by_test_id("sandbox-send").tap()
    expect(page.locator("[data-testid=sandbox-message][data-direction=in]")).to_have_count(1)
    expect(page.locator("[data-testid=sandbox-message][data-direction=out]").first).to_be_visible(timeout=40_000)
    sbox = page.get_by_test_id("sandbox-send").bounding_box()
    assert sbox and sbox["x"] + sbox["width"] <= PHONE["width"] and sbox["y"] + sbox["height"] <= PHONE["height"]
    shot(page, "sandbox-mobile")


def test_a_board_with_2000_cards_scrolls_and_drags(browser, live_tenant):
    from django.db import connection
    from django_tenants.utils import tenant_context

    from leads.models import Lead, Stage

    with tenant_context(live_tenant):
        new = Stage.objects.get(kind="new")
        Lead.objects.bulk_create([
            Lead(name=f"Массовый {i:04d}", phone=f"+7705{i:07d}", city="Алматы", stage=new, score=i % 100,
                 temperature="hot" if i % 100 > 70 else "warm" if i % 100 > 40 else "cold", channel="whatsapp")
            for i in range(2000)
        ], batch_size=500)
    connection.set_schema_to_public()
    ids = stages(live_tenant)

    page = browser.page(live_tenant)
    big = column(page, ids["new"])
    expect(page.get_by_test_id(f"column-count-{ids['new']}")).to_have_text("2000")
    expect(big.locator("[data-testid^=lead-card-]").first).to_be_visible()
    # windowed: only a screenful of cards is in the DOM, not two thousand
    assert big.locator("[data-testid^=lead-card-]").count() < 60
    shot(page, "board-2000-desktop")

    scroller = big.locator(".column-scroll")
    inner = big.locator(".column-inner")

    def loaded() -> int:
        return round(inner.evaluate("el => el.getBoundingClientRect().height") / 124)

    assert loaded() == 30
    for _ in range(6):
        before = loaded()
        scroller.evaluate("el => { el.scrollTop = el.scrollHeight; }")
        page.wait_for_function("([el, h]) => el.getBoundingClientRect().height > h",
                               arg=[inner.element_handle(), before * 124 + 1])
    assert loaded() >= 180
    assert big.locator("[data-testid^=lead-card-]").count() < 60
    # the cards shown deep down are the low-score ones, in order (sorted by score inside the column)
    scores = [int(s) for s in big.locator("[data-testid^=lead-card-] .score").all_inner_texts()]
    assert scores == sorted(scores, reverse=True) and scores[0] < 99

    # pick a card by its id: the windowed column re-renders other cards at that index as it scrolls
    moved_id = int(scroller.evaluate("""el => { const r = el.getBoundingClientRect();
        return document.elementFromPoint(r.left + r.width / 2, r.top + r.height / 2).closest('[data-lead-id]')
          .dataset.leadId; }"""))
    target = card(page, moved_id)
    expect(target).to_be_in_viewport()
    # (a column on screen: Playwright's synthetic drag does not trigger the browser's edge auto-scroll)
    target.drag_to(column(page, ids["requests_call"]))
    expect(column(page, ids["requests_call"]).get_by_test_id(f"lead-card-{moved_id}")).to_be_visible()
    expect(page.get_by_test_id(f"column-count-{ids['new']}")).to_have_text("1999")
    expect(page.get_by_test_id(f"column-count-{ids['requests_call']}")).to_have_text("1")
    for _ in range(100):
        if lead_get(live_tenant, moved_id).stage.kind == "requests_call":
            break
        page.wait_for_timeout(100)
    assert lead_get(live_tenant, moved_id).stage.kind == "requests_call"

    # the list pages through the same 2,000 with the page size it asks for
    page.get_by_test_id("view-list").click()
    expect(page.get_by_test_id("list-count")).to_have_text("Найдено: 2000")
    expect(page.locator("[data-testid^=list-row-]")).to_have_count(50)
    expect(page.get_by_text("Стр. 1 из 40")).to_be_visible()
