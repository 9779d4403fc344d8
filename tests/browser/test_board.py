"""The Kanban board and the lead card against the real stack: drag persisted, live cards and AI replies from
the sandbox, takeover and return to AI, role visibility."""
import time
import uuid

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import shot
from tests.browser.helpers import card, column, configure, lead_get, lead_make, stages

pytestmark = [pytest.mark.browser, pytest.mark.live]


def test_a_card_dragged_to_another_stage_is_persisted(browser, live_tenant):
    ids = stages(live_tenant)
    first = lead_make(live_tenant, name="Берик Дрэг", score=60, temperature="hot", city="Алматы",
                      text="Сколько стоит дом 10×12?")
    other = lead_make(live_tenant, name="Айгуль Стоит", score=20, temperature="warm")
    page = browser.page(live_tenant)
    expect(column(page, ids["new"]).get_by_test_id(f"lead-card-{first}")).to_be_visible()
    expect(page.get_by_test_id(f"column-count-{ids['new']}")).to_have_text("2")
    expect(card(page, first)).to_contain_text("Алматы")
    expect(card(page, first)).to_contain_text("Сколько стоит дом")
    expect(card(page, first).get_by_test_id("temperature")).to_have_attribute("data-temperature", "hot")
    expect(card(page, first).get_by_test_id("handler-badge")).to_have_attribute("data-handler", "ai")

    card(page, first).drag_to(column(page, ids["in_dialog"]))
    expect(column(page, ids["in_dialog"]).get_by_test_id(f"lead-card-{first}")).to_be_visible()
    expect(page.get_by_test_id(f"column-count-{ids['new']}")).to_have_text("1")
    expect(page.get_by_test_id(f"column-count-{ids['in_dialog']}")).to_have_text("1")
    deadline = time.monotonic() + 10
    while lead_get(live_tenant, first).stage.kind != "in_dialog" and time.monotonic() < deadline:
        time.sleep(0.1)
    lead = lead_get(live_tenant, first)
    assert lead.stage.kind == "in_dialog"
    assert lead_get(live_tenant, other).stage.kind == "new"

    page.reload()
    expect(column(page, ids["in_dialog"]).get_by_test_id(f"lead-card-{first}")).to_be_visible()
    expect(column(page, ids["new"]).get_by_test_id(f"lead-card-{other}")).to_be_visible()
    expect(column(page, ids["new"]).get_by_test_id(f"lead-card-{first}")).to_have_count(0)
    shot(page, "board-desktop")

    # the move is in the card's timeline too
    card(page, first).click()
    expect(page.get_by_test_id("lead-panel")).to_be_visible()
    expect(page.get_by_test_id("lead-stage")).to_have_value(str(ids["in_dialog"]))
    expect(page.get_by_test_id("timeline").first).to_contain_text(f"{lead.stage.name}")
    expect(page.get_by_test_id("timeline").first).not_to_contain_text('{"id"')


def test_a_refused_move_is_rolled_back_with_a_message(browser, live_tenant):
    """A stage deleted behind the board's back: the drop is refused by the API and the card goes back."""
    from django_tenants.utils import tenant_context

    from leads.models import Stage

    with tenant_context(live_tenant):
        doomed = Stage.objects.create(name="Временный", kind="custom", color="#999999", position=1)
    lead = lead_make(live_tenant, name="Откат Тест", score=30)
    ids = stages(live_tenant)
    page = browser.page(live_tenant)
    expect(card(page, lead)).to_be_visible()
    expect(column(page, doomed.pk)).to_be_visible()
    with tenant_context(live_tenant):
        Stage.objects.filter(pk=doomed.pk).delete()
    card(page, lead).drag_to(column(page, doomed.pk))
    expect(page.get_by_test_id("toast-error")).to_contain_text("Откат Тест")
    expect(column(page, ids["new"]).get_by_test_id(f"lead-card-{lead}")).to_be_visible()
    assert lead_get(live_tenant, lead).stage.kind == "new"


def test_sandbox_message_makes_a_live_card_and_the_ai_reply_appears_in_the_open_chat(browser, live_tenant, worker):
    configure(live_tenant, {"company": "ПанельСтрой", "ai": {"debounce_seconds": 0.2},
                            "followups": {"enabled": False}})
    name = f"Клиент {uuid.uuid4().hex[:5]}"
    board = browser.page(live_tenant)
    expect(board.get_by_test_id("board")).to_be_visible()
    expect(board.locator("[data-testid^=lead-card-]")).to_have_count(0)

    # the sandbox phone in another tab plays the client
    phone = board.context.new_page()
    phone.goto(board.url.replace("/leads", "/sandbox"))
    phone.get_by_test_id("sandbox-phone").fill("+77015550101")
    phone.get_by_test_id("sandbox-name").fill(name)
    phone.get_by_test_id("sandbox-input").fill("Здравствуйте! Сколько стоит дом 10 на 12?")
    phone.get_by_test_id("sandbox-send").click()
    expect(phone.locator("[data-testid=sandbox-message][data-direction=in]")).to_have_count(1)

    # the open board gets the card without a reload
    new_card = board.locator("[data-testid^=lead-card-]", has_text=name)
    expect(new_card).to_be_visible()
    lead_id = int(new_card.get_attribute("data-lead-id"))
    new_card.click()
    chat = board.get_by_test_id("chat")
    expect(chat.locator("[data-author=client]")).to_have_count(1)
    # the AI's reply arrives in the open chat (the real pipeline: worker → AI turn → send → websocket)
    expect(chat.locator("[data-author=ai]").first).to_be_visible(timeout=40_000)
    expect(phone.locator("[data-testid=sandbox-message][data-direction=out]").first).to_be_visible(timeout=20_000)

    # a second client message while the chat is open: message and answer appear live
    ai_before = chat.locator("[data-author=ai]").count()
    phone.get_by_test_id("sandbox-input").fill("Мы в Алматы, участок есть. Нужен дом к лету.")
    phone.get_by_test_id("sandbox-send").click()
    expect(chat.locator("[data-author=client]")).to_have_count(2)
    expect(chat.locator("[data-author=ai]")).to_have_count(ai_before + 1, timeout=40_000)
    # delivery status of the AI's messages is shown (message.updated events move it past "queued")
    expect(chat.locator("[data-author=ai] [data-testid=msg-status]").last).not_to_have_attribute(
        "data-status", "queued", timeout=20_000)
    shot(board, "card-desktop")
    shot(phone, "sandbox-desktop")

    lead = lead_get(live_tenant, lead_id)
    assert lead.name == name and lead.channel == "sandbox"


def test_takeover_and_return_to_ai(browser, live_tenant):
    lead_id = lead_make(live_tenant, name="Передача Диалога", score=40, temperature="warm", text="Алло")
    page = browser.page(live_tenant, path=f"/leads/{lead_id}", role="head")
    panel = page.get_by_test_id("lead-panel")
    expect(panel.get_by_test_id("handler-badge")).to_have_attribute("data-handler", "ai")

    panel.get_by_test_id("takeover").click()
    expect(panel.get_by_test_id("handler-badge")).to_have_attribute("data-handler", "human")
    expect(panel.get_by_test_id("handler-badge")).to_contain_text("Head")
    expect(panel.get_by_test_id("return-to-ai")).to_be_visible()
    expect(panel.get_by_test_id("takeover")).to_have_count(0)
    lead = lead_get(live_tenant, lead_id)
    assert lead.handler is not None and lead.handler.email == f"head@{live_tenant.slug}.test"
    assert not lead.handled_by_ai
    # the board behind the panel shows the same badge (same cache, websocket event)
    expect(card(page, lead_id).get_by_test_id("handler-badge")).to_have_attribute("data-handler", "human")

    panel.get_by_test_id("return-to-ai").click()
    expect(panel.get_by_test_id("handler-badge")).to_have_attribute("data-handler", "ai")
    expect(panel.get_by_test_id("takeover")).to_be_visible()
    lead = lead_get(live_tenant, lead_id)
    assert lead.handler is None and lead.ai_enabled and lead.handled_by_ai
    expect(card(page, lead_id).get_by_test_id("handler-badge")).to_have_attribute("data-handler", "ai")

    # after a reload the state is what the server says
    page.reload()
    expect(page.get_by_test_id("lead-panel").get_by_test_id("handler-badge")).to_have_attribute("data-handler", "ai")


def test_a_person_writing_takes_over_and_the_message_shows_who_wrote_it(browser, live_tenant, worker):
    lead_id = lead_make(live_tenant, name="Ручной Ответ", channel="sandbox", text="Добрый день")
    page = browser.page(live_tenant, path=f"/leads/{lead_id}")
    chat = page.get_by_test_id("chat")
    chat.get_by_test_id("chat-input").fill("Здравствуйте, это менеджер Алия.")
    chat.get_by_test_id("chat-send").click()
    mine = chat.locator("[data-author=user]")
    expect(mine).to_have_count(1)
    expect(mine).to_contain_text(_full_name(live_tenant, "owner"))
    expect(mine).to_contain_text("менеджер Алия")
    expect(page.get_by_test_id("lead-panel").get_by_test_id("handler-badge")).to_have_attribute("data-handler", "human")
    expect(mine.get_by_test_id("msg-status")).to_have_attribute("data-status", "sent", timeout=20_000)
    assert lead_get(live_tenant, lead_id).handler.email == f"owner@{live_tenant.slug}.test"


def test_a_manager_sees_only_assigned_cards_when_the_tenant_says_so(browser, live_tenant):
    configure(live_tenant, {"leads": {"managers_see_all": False}})
    ids = stages(live_tenant)
    mine = lead_make(live_tenant, name="Моя Заявка", assignee="manager", score=50)
    theirs = lead_make(live_tenant, name="Чужая Заявка", assignee="manager2", score=40)
    nobody = lead_make(live_tenant, name="Ничья Заявка", score=30)

    page = browser.page(live_tenant, role="manager")
    expect(card(page, mine)).to_be_visible()
    expect(page.get_by_test_id(f"column-count-{ids['new']}")).to_have_text("1")
    expect(card(page, theirs)).to_have_count(0)
    expect(card(page, nobody)).to_have_count(0)
    # no team/stages sections for a manager, and a direct link says so
    expect(page.get_by_test_id("nav-team")).to_have_count(0)
    page.goto(page.url.replace("/leads", "/team"))
    expect(page.get_by_test_id("no-access")).to_be_visible()
    # the list and a direct link to someone else's card follow the same rule
    page.goto(page.url.replace("/team", "/leads?view=list"))
    expect(page.get_by_test_id(f"list-row-{mine}")).to_be_visible()
    expect(page.get_by_test_id("list-count")).to_contain_text("1")
    page.goto(page.url.split("/leads")[0] + f"/leads/{theirs}")
    expect(page.get_by_test_id("lead-panel")).to_contain_text("Заявка не найдена")

    # a lead assigned to this manager later appears live on their open board
    page.goto(page.url.split("/leads")[0] + "/leads")
    expect(card(page, mine)).to_be_visible()
    owner = browser.page(live_tenant, path=f"/leads/{nobody}")
    owner.get_by_test_id("lead-assignee").select_option(label="Manager " + live_tenant.slug)
    expect(card(page, nobody)).to_be_visible()
    expect(page.get_by_test_id(f"column-count-{ids['new']}")).to_have_text("2")

    # the owner sees everything
    owner.goto(owner.url.split("/leads")[0] + "/leads")
    for pk in (mine, theirs, nobody):
        expect(card(owner, pk)).to_be_visible()


def _full_name(tenant, role: str) -> str:
    from tests.conftest import user_of

    user = user_of(tenant, role)
    return user.full_name or user.email
