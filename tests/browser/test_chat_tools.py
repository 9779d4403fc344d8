"""The chat tools on a phone (issue 16), in Russian and in English: a head adds a quick reply on the Content page, a
manager inserts it in the chat (by "/" and by the button, the lead's name filled in), adds an internal note that is
shown as a note and never becomes a message, sees tel: and WhatsApp links on the phone number, and flips the lead's AI
switch."""
from __future__ import annotations

import pytest
from django_tenants.utils import tenant_context
from playwright.sync_api import expect

from tests.browser.conftest import PHONE, shot
from tests.browser.helpers import lead_get, lead_make
from tests.integrations.standin import standin  # noqa: F401  (fixture)

pytestmark = [pytest.mark.browser, pytest.mark.live]


def _messages_and_notes(tenant, lead_id: int) -> tuple[list[str], list[str]]:
    from conversations.models import LeadNote, Message

    with tenant_context(tenant):
        return (list(Message.objects.filter(lead_id=lead_id).values_list("text", flat=True)),
                list(LeadNote.objects.filter(lead_id=lead_id).values_list("text", flat=True)))


def _fits_the_phone(page) -> None:
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE["width"], f"the page scrolls sideways on a phone ({width}px)"


def test_chat_tools_on_a_phone_in_russian(browser, live_tenant):
    head = browser.page(live_tenant, role="head", phone=True, path="/content")
    manager_ui = head.get_by_test_id("qr-manager")
    expect(manager_ui).to_contain_text("Быстрые ответы")
    head.get_by_test_id("qr-add").tap()
    head.get_by_test_id("qr-title").fill("Цена дома")
    head.get_by_test_id("qr-text").fill("Здравствуйте, {name}! Дом 8×10 — от 12 млн ₸.")
    head.get_by_test_id("qr-save").tap()
    expect(manager_ui.get_by_text("Цена дома")).to_be_visible()
    _fits_the_phone(head)

    lead_id = lead_make(live_tenant, name="Айгерим", channel="sandbox", text="Сколько стоит дом?",
                        assignee="manager")
    page = browser.page(live_tenant, role="manager", phone=True, path=f"/leads/{lead_id}")
    panel = page.get_by_test_id("lead-panel")
    chat = panel.get_by_test_id("chat")
    expect(chat).to_be_visible()

    # the phone number: a call link and a WhatsApp link with its digits
    number = lead_get(live_tenant, lead_id).phone
    digits = "".join(c for c in number if c.isdigit())
    expect(panel.get_by_test_id("phone-tel")).to_have_attribute("href", f"tel:+{digits}")
    expect(panel.get_by_test_id("phone-wa")).to_have_attribute("href", f"https://wa.me/{digits}")

    # "/" and part of the title find the quick reply; choosing it fills the lead's name in
    chat.get_by_test_id("chat-input").fill("/цен")
    picker = chat.get_by_test_id("qr-picker")
    expect(picker.get_by_test_id("qr-item")).to_have_count(1)
    picker.get_by_test_id("qr-item").tap()
    expect(chat.get_by_test_id("chat-input")).to_have_value("Здравствуйте, Айгерим! Дом 8×10 — от 12 млн ₸.")
    expect(picker).to_have_count(0)

    # an internal note: shown as a note in the chat, stored as a note, no message to the client
    chat.get_by_test_id("mode-note").tap()
    chat.get_by_test_id("chat-input").fill("Клиент просил звонить после 18:00")
    chat.get_by_test_id("chat-send").tap()
    note = chat.get_by_test_id("chat-note")
    expect(note).to_have_count(1)
    expect(note).to_contain_text("Заметка")
    expect(note).to_contain_text("Клиент просил звонить после 18:00")
    expect(note).to_contain_text("видна только команде")
    messages, notes = _messages_and_notes(live_tenant, lead_id)
    assert notes == ["Клиент просил звонить после 18:00"]
    assert all("18:00" not in text for text in messages)
    assert lead_get(live_tenant, lead_id).handler is None  # a note takes nothing over

    # the AI switch shows its state and turns the AI off for this lead
    switch = panel.get_by_test_id("ai-switch")
    expect(switch.get_by_test_id("ai-switch-state")).to_have_text("AI включён")
    switch.tap()
    expect(switch.get_by_test_id("ai-switch-state")).to_have_text("AI выключен")
    assert lead_get(live_tenant, lead_id).ai_enabled is False
    _fits_the_phone(page)
    shot(page, "chat-tools-mobile-ru")

    page.reload()  # what the server keeps: the note and the switch
    expect(page.get_by_test_id("chat-note")).to_contain_text("после 18:00")
    expect(page.get_by_test_id("ai-switch-state")).to_have_text("AI выключен")


def test_chat_tools_on_a_phone_in_english(browser, live_tenant):
    from conversations.models import QuickReply

    with tenant_context(live_tenant):
        QuickReply.objects.create(title="Address", text="Hello {name}, our office is at 5 Abay Ave.")
    lead_id = lead_make(live_tenant, name="Dana", channel="sandbox", text="Where are you?")
    page = browser.page(live_tenant, role="owner", phone=True)
    page.get_by_test_id("lang-switch").click()  # on the list: the open card covers the top bar on a phone
    expect(page.get_by_test_id("nav-leads")).to_contain_text("Leads")
    page.goto(browser.server.url(live_tenant, f"/leads/{lead_id}"))
    panel = page.get_by_test_id("lead-panel")
    chat = panel.get_by_test_id("chat")
    expect(panel.get_by_test_id("ai-switch-state")).to_have_text("AI on")

    chat.get_by_test_id("qr-button").tap()
    picker = chat.get_by_test_id("qr-picker")
    expect(picker).to_contain_text("Quick replies")
    picker.get_by_test_id("qr-item").filter(has_text="Address").tap()
    expect(chat.get_by_test_id("chat-input")).to_have_value("Hello Dana, our office is at 5 Abay Ave.")

    chat.get_by_test_id("mode-note").tap()
    expect(chat.get_by_test_id("chat-send")).to_have_text("Add note")
    chat.get_by_test_id("chat-input").fill("Prefers WhatsApp over calls")
    chat.get_by_test_id("chat-send").tap()
    expect(chat.get_by_test_id("chat-note")).to_contain_text("Note")
    expect(chat.get_by_test_id("chat-note")).to_contain_text("team only")
    assert _messages_and_notes(live_tenant, lead_id)[1] == ["Prefers WhatsApp over calls"]

    panel.get_by_test_id("ai-switch").tap()
    expect(panel.get_by_test_id("ai-switch-state")).to_have_text("AI off")
    assert lead_get(live_tenant, lead_id).ai_enabled is False
    panel.get_by_test_id("ai-switch").tap()
    expect(panel.get_by_test_id("ai-switch-state")).to_have_text("AI on")
    assert lead_get(live_tenant, lead_id).ai_enabled is True
    _fits_the_phone(page)
    shot(page, "chat-tools-mobile-en")


def test_a_closed_whatsapp_window_offers_templates_and_blocks_free_text(browser, live_tenant, worker,
                                                                       standin):  # noqa: F811  (the fixture)
    from datetime import timedelta

    from django.utils import timezone

    from leads.models import Lead
    from tests.browser.helpers import configure

    configure(live_tenant, {"company": "СтройДом", "channels": {"whatsapp_cloud": {
        "api_url": standin.url + "/v21.0", "phone_number_id": "1099", "access_token": "EAAG-tok", "app_secret": "s",
        "verify_token": "v", "templates": [{"name": "reminder", "language": "ru",
                                            "text": "Здравствуйте, {{1}}! Это {{2}}. Актуально?",
                                            "variables": ["name", "company"]}]}}})
    standin.default.json = {"messaging_product": "whatsapp", "messages": [{"id": "wamid.BROWSER"}]}
    lead_id = lead_make(live_tenant, name="Ерлан", channel="whatsapp", text="Добрый день")
    with tenant_context(live_tenant):
        Lead.objects.filter(pk=lead_id).update(last_inbound_at=timezone.now() - timedelta(days=2))
    page = browser.page(live_tenant, role="owner", phone=True, path=f"/leads/{lead_id}")
    chat = page.get_by_test_id("chat")
    bar = chat.get_by_test_id("window-closed")
    expect(bar).to_contain_text("Окно 24 ч WhatsApp закрыто")
    expect(chat.get_by_test_id("chat-input")).to_be_disabled()
    expect(chat.get_by_test_id("tpl-preview")).to_have_text("Здравствуйте, Ерлан! Это СтройДом. Актуально?")
    _fits_the_phone(page)
    shot(page, "chat-template-mobile")
    chat.get_by_test_id("tpl-send").tap()
    sent = chat.locator("[data-author=user]")
    expect(sent).to_contain_text("Здравствуйте, Ерлан! Это СтройДом.")
    expect(sent.get_by_test_id("msg-status")).to_have_attribute("data-status", "sent", timeout=20_000)
    [request] = standin.requests
    assert request.json["type"] == "template" and request.json["template"]["name"] == "reminder"
    assert request.json["template"]["components"][0]["parameters"] == [{"type": "text", "text": "Ерлан"},
                                                                       {"type": "text", "text": "СтройДом"}]
    # notes stay possible while the window is closed
    chat.get_by_test_id("mode-note").tap()
    expect(chat.get_by_test_id("chat-input")).to_be_enabled()
    expect(bar).to_have_count(0)

    # a client who wrote an hour ago: free text goes, and the composer says how long the window stays open
    fresh_id = lead_make(live_tenant, name="Свежий", channel="whatsapp", text="Привет")
    with tenant_context(live_tenant):
        Lead.objects.filter(pk=fresh_id).update(last_inbound_at=timezone.now() - timedelta(hours=1))
    page.goto(browser.server.url(live_tenant, f"/leads/{fresh_id}"))
    chat = page.get_by_test_id("chat")
    expect(chat.get_by_test_id("window-open")).to_contain_text("Окно WhatsApp открыто ещё 22 ч")
    expect(chat.get_by_test_id("chat-input")).to_be_enabled()
    expect(chat.get_by_test_id("window-closed")).to_have_count(0)
