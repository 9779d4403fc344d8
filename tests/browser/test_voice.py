"""A client's voice notes in the chat: the transcript under the audio player (with its label), the note still being
transcribed or not transcribed said so, and the AI's voice reply with its text — at phone size."""

import pytest
from django.db import connection
from django_tenants.utils import tenant_context
from playwright.sync_api import expect

from tests.browser.conftest import PHONE, shot
from tests.browser.helpers import card, lead_make

pytestmark = [pytest.mark.browser, pytest.mark.live]


def test_voice_notes_show_their_transcript_under_the_player(browser, live_tenant):
    from conversations.models import Message

    lead_id = lead_make(live_tenant, name="Голосовой Клиент", channel="sandbox", text="[voice]")
    media = f"/media/{live_tenant.schema_name}/note.ogg"
    with tenant_context(live_tenant):
        common = {"lead_id": lead_id, "provider": "sandbox", "media_url": media}
        Message.objects.create(
            direction="in",
            kind="voice",
            status="received",
            author_kind="client",
            transcript_status="done",
            transcript="Нужен дом 10 на 12 в Алматы",
            **common,
        )
        Message.objects.create(
            direction="in", kind="voice", status="received", author_kind="client", transcript_status="failed", **common
        )
        Message.objects.create(
            direction="in", kind="voice", status="received", author_kind="client", transcript_status="pending", **common
        )
        Message.objects.create(
            direction="out",
            kind="voice",
            status="sent",
            author_kind="ai",
            text="Здравствуйте! Дом 10×12 — от 9 млн тенге.",
            **common,
        )
    connection.set_schema_to_public()

    page = browser.page(live_tenant, role="owner", phone=True)
    card(page, lead_id).tap()
    chat = page.get_by_test_id("lead-panel").get_by_test_id("chat")
    expect(chat.locator("audio.msg-audio")).to_have_count(4)
    transcripts = chat.get_by_test_id("msg-transcript")
    expect(transcripts).to_have_count(3)
    expect(transcripts.nth(0)).to_have_text("Расшифровка: Нужен дом 10 на 12 в Алматы")
    expect(transcripts.nth(1)).to_contain_text("не расшифровано")
    expect(transcripts.nth(2)).to_contain_text("Расшифровываем")
    expect(chat.get_by_text("Здравствуйте! Дом 10×12 — от 9 млн тенге.")).to_be_visible()
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE["width"], f"the page scrolls sideways on a phone ({width}px)"
    shot(page, "voice-notes-mobile")
