"""Issue 16's polish, seen in headless Chromium on a 390 px phone in Russian and English: no emoji anywhere on the
board, the card or the navigation (they are empty boxes without an emoji font), sandbox messages reach ✓✓ (read),
the owner's label names the role once, and /favicon.ico answers on tenant and platform hosts."""
from __future__ import annotations

import urllib.request

import pytest
from django.conf import settings
from django_tenants.utils import tenant_context
from playwright.sync_api import expect

from tests.browser.conftest import fetch_status, shot
from tests.browser.helpers import card, configure, lead_make

pytestmark = pytest.mark.browser

# Whatever text the page shows: any pictographic code point (emoji) is a failure.
# Full-width forms (＋) have no glyph in the usual fonts either: the same empty box.
EMOJI_IN_PAGE = ("() => Array.from(document.body.innerText.matchAll("
                 "/[\\p{Extended_Pictographic}\\u{FF00}-\\u{FFEF}]/gu), (m) => m[0])")
LABELS = {"ru": {"owner": "Владелец"}, "en": {"owner": "Owner"}}


def _in_language(page, lang: str) -> None:
    current = page.evaluate("() => localStorage.getItem('buildcrm.lang') || 'ru'")
    if current != lang:
        page.get_by_test_id("lang-switch").click()
    expect(page.get_by_test_id("lang-switch")).to_have_text("RU" if lang == "en" else "EN")


@pytest.mark.parametrize("lang", ["ru", "en"])
def test_board_card_and_navigation_show_no_emoji_and_svg_icons_instead(browser, live_tenant, lang):
    from leads.models import Lead

    hot = lead_make(live_tenant, name="Горячий Клиент", kind="in_dialog", score=85, temperature="hot", text="Цена?")
    lead_make(live_tenant, name="Тёплый Клиент", score=50, temperature="warm", text="Здравствуйте")
    lead_make(live_tenant, name="Холодный Клиент", score=5, temperature="cold")
    with tenant_context(live_tenant):
        Lead.objects.filter(pk=hot).update(needs_human=True, stage_locked=True)
    page = browser.page(live_tenant, phone=True)
    _in_language(page, lang)
    expect(card(page, hot)).to_be_visible()
    # the temperature is an SVG icon, not a glyph
    expect(card(page, hot).locator("[data-testid=temperature] svg.icon-hot")).to_have_count(1)
    expect(card(page, hot).locator("[data-testid=pin-badge] svg.icon-pin")).to_have_count(1)
    expect(page.locator("nav svg.icon").first).to_be_visible()
    assert page.evaluate(EMOJI_IN_PAGE) == []
    shot(page, f"polish-board-phone-{lang}")

    card(page, hot).click()
    panel = page.get_by_test_id("lead-panel")
    expect(panel).to_be_visible()
    expect(panel.get_by_test_id("handler-badge").locator("svg.icon-ai")).to_have_count(1)
    expect(panel.get_by_test_id("lead-pin").locator("svg.icon-pin")).to_have_count(1)
    assert page.evaluate(EMOJI_IN_PAGE) == []
    shot(page, f"polish-card-phone-{lang}")

    for path in ("/leads?view=list", "/team", "/stages", "/sandbox"):
        page.goto(browser.server.url(live_tenant, path))
        expect(page.locator("nav")).to_be_visible()
        page.wait_for_load_state("networkidle")
        assert page.evaluate(EMOJI_IN_PAGE) == [], path


@pytest.mark.parametrize("lang", ["ru", "en"])
def test_sandbox_messages_reach_read_on_the_phone_and_in_the_card(browser, live_tenant, worker, lang):
    configure(live_tenant, {"ai": {"debounce_seconds": 0.2}, "followups": {"enabled": False}})
    phone = browser.page(live_tenant, phone=True, path="/sandbox")
    _in_language(phone, lang)
    phone.get_by_test_id("sandbox-phone").fill("+77015550177")
    phone.get_by_test_id("sandbox-input").fill("Здравствуйте! Сколько стоит дом 10 на 12?")
    phone.get_by_test_id("sandbox-send").click()
    reply = phone.locator("[data-testid=sandbox-message][data-direction=out]").first
    expect(reply).to_be_visible(timeout=40_000)
    # the phone has shown it: read, two ticks (an SVG), on the phone ...
    expect(reply.get_by_test_id("msg-status")).to_have_attribute("data-status", "read", timeout=20_000)
    expect(reply.locator("[data-testid=msg-status] svg.icon-checks")).to_have_count(1)
    assert phone.evaluate(EMOJI_IN_PAGE) == []
    shot(phone, f"polish-sandbox-read-phone-{lang}")

    # ... and in the team's card of that lead
    phone.get_by_test_id("sandbox-open-lead").click()
    chat = phone.get_by_test_id("chat")
    expect(chat.locator("[data-author=ai] [data-testid=msg-status]").first).to_have_attribute(
        "data-status", "read")
    shot(phone, f"polish-card-read-phone-{lang}")


@pytest.mark.parametrize("lang", ["ru", "en"])
def test_owner_label_names_the_role_once_and_favicon_answers(browser, live_tenant, lang):
    from accounts.models import User

    with tenant_context(live_tenant):
        # an owner provisioned before the fix was named after the role
        User.objects.filter(role="owner").update(full_name="Владелец")
    page = browser.page(live_tenant, phone=True)
    _in_language(page, lang)
    role = LABELS[lang]["owner"]
    expect(page.get_by_test_id("me")).to_have_text(f"owner@{live_tenant.slug}.test · {role}")
    assert fetch_status(page, "/favicon.ico") == 200
    request = urllib.request.Request(f"http://127.0.0.1:{browser.server.port}/favicon.ico",
                                     headers={"Host": settings.PUBLIC_DOMAIN})
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.status == 200 and response.read(4) == b"\x00\x00\x01\x00"
    page.goto(browser.server.url(live_tenant, "/account"))
    shot(page, f"polish-owner-phone-{lang}")


@pytest.mark.parametrize("lang", ["ru", "en"])
def test_admin_structured_editor_marks_the_bad_cell_in_the_admins_language(chromium, live_stack, live_tenant, lang):
    from accounts.models import User

    email = f"root-{lang}-{live_tenant.slug}@platform.kz"
    User.objects.create_superuser(email, "Root-pass-2026")
    context = chromium.new_context(viewport={"width": 1280, "height": 900}, locale="ru-RU" if lang == "ru" else "en-US")
    try:
        page = context.new_page()
        base = f"http://localhost:{live_stack.port}"
        page.goto(f"{base}/admin/login/")
        page.fill("#id_username", email)
        page.fill("#id_password", "Root-pass-2026")
        page.locator("input[type=submit]").click()
        page.goto(f"{base}/admin/tenants/tenant/{live_tenant.pk}/change/")
        editor = page.locator("#structured-followup_steps")
        expect(editor.locator("input[name='followup_steps-0-after_minutes']")).to_have_value("15")
        editor.locator("[data-add-row=followup_steps]").click()  # one more blank row, by the button
        expect(editor.locator("tbody tr")).to_have_count(4)
        editor.locator("input[name='followup_steps-1-after_minutes']").fill("-5")
        page.fill("#id_ai_api_key", "sk-typed-in-browser")
        page.locator("input[name=_continue]").click()
        cell = page.locator("[data-cell='followup_steps-1-after_minutes']")
        expect(cell).to_contain_text("не может быть отрицательным" if lang == "ru" else "must not be negative")
        expect(page.locator("#id_ai_api_key")).to_have_value("sk-typed-in-browser")
        cell.scroll_into_view_if_needed()
        shot(page, f"polish-admin-editor-{lang}")
    finally:
        context.close()
