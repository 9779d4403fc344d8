"""The follow-up schedule with a controllable clock: steps at the right times, every cancellation reason,
quiet hours across midnight and a time-zone change, max per lead, the step gap, refusals, the WhatsApp window."""
from __future__ import annotations

import random
from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone

from conversations.models import Message
from followups.models import FollowUp
from followups.scheduling import followups_schedule
from followups.services import MAX_SEND_FAILURES, WA_NO_TEMPLATE, followups_sweep
from leads.models import Lead, StageKind
from leads.services import AI, lead_move, lead_takeover, lead_update, stage_of_kind
from tests.conftest import user_of
from tests.followups.conftest import NO_QUIET, ai_says, client_writes, configure, local

MIN = timedelta(minutes=1)


def touches(lead):
    return list(Message.objects.filter(lead=lead, purpose="followup").order_by("id"))


def says(message, template: str) -> bool:
    """The AI may vary a template (a name, an opener); the template's words stay."""
    return template.rstrip("?").lower() in message.text.lower()


def rows(lead, **filters):
    return list(FollowUp.objects.filter(lead=lead, **filters).order_by("step", "id"))


def test_silent_lead_gets_its_steps_at_the_right_times(alpha):
    lead = client_writes("Здравствуйте, сколько стоит дом?")
    sent = ai_says(lead)
    t0 = sent.sent_at
    steps = rows(lead, status="pending")
    assert [(r.step, r.text) for r in steps] == [(1, "Подскажите, актуально?"), (2, "Когда удобно созвониться?")]
    assert [r.due_at for r in steps] == [t0 + 15 * MIN, t0 + 45 * MIN]
    assert lead.waiting_since is not None  # the "no answer" flag and timer of the card

    assert followups_sweep(now=t0 + 14 * MIN).sent == 0
    assert touches(lead) == []
    assert followups_sweep(now=t0 + 15 * MIN).sent == 1
    assert [says(m, "Подскажите, актуально?") for m in touches(lead)] == [True]
    assert followups_sweep(now=t0 + 44 * MIN).sent == 0
    assert followups_sweep(now=t0 + 45 * MIN).sent == 1
    assert followups_sweep(now=t0 + 600 * MIN).claimed == 0
    first, second = rows(lead)
    assert (first.status, first.done_at, second.status, second.done_at) == ("sent", t0 + 15 * MIN, "sent",
                                                                            t0 + 45 * MIN)
    assert first.message.purpose == "followup" and first.message.author_kind == "ai"
    first_touch, second_touch = touches(lead)
    assert says(first_touch, "Подскажите, актуально?") and says(second_touch, "Когда удобно созвониться?")
    # A touch is not a new wait: sending it schedules nothing more.
    for message in touches(lead):
        from conversations.services import message_deliver
        message_deliver(message_id=message.pk)
    assert rows(lead, status="pending") == []


def test_a_later_message_of_the_same_turn_rebases_the_steps(alpha):
    lead = client_writes("Привет")
    ai_says(lead, "Здравствуйте!")
    second = ai_says(lead, "Какой дом вы хотите?")
    pending = rows(lead, status="pending")
    assert [r.step for r in pending] == [1, 2]
    assert pending[0].due_at == second.sent_at + 15 * MIN


def _scheduled_lead():
    lead = client_writes("Интересует баня")
    sent = ai_says(lead)
    assert len(rows(lead, status="pending")) == 2
    return lead, sent.sent_at


def _cancel_answer(lead, tenant):
    client_writes("Да, актуально", number=lead.phone)


def _cancel_takeover(lead, tenant):
    lead_takeover(lead=lead, user=user_of(tenant, "manager"))


def _cancel_ai_off_lead(lead, tenant):
    lead_update(lead=lead, actor=AI, ai_enabled=False)


def _cancel_won(lead, tenant):
    lead_move(lead=lead, stage=stage_of_kind(StageKind.WON), actor=AI)


def _cancel_lost(lead, tenant):
    lead_move(lead=lead, stage=stage_of_kind(StageKind.LOST), actor=AI)


def _cancel_refused(lead, tenant):
    lead_update(lead=lead, actor=AI, refused=True)


@pytest.mark.parametrize("action, reason", [
    (_cancel_answer, "client answered"), (_cancel_takeover, "takeover"), (_cancel_ai_off_lead, "AI off for lead"),
    (_cancel_won, "stage won"), (_cancel_lost, "stage lost"), (_cancel_refused, "refused"),
])
def test_every_cancellation_reason_is_kept(alpha, client_for, action, reason):
    lead, t0 = _scheduled_lead()
    action(lead, alpha)
    assert {(r.status, r.reason) for r in rows(lead)} == {("cancelled", reason)}
    assert followups_sweep(now=t0 + 600 * MIN).sent == 0
    assert touches(lead) == []
    card = client_for(alpha, "owner").get(f"/api/leads/{lead.pk}/followups/")
    assert card.status_code == 200
    assert {(f["status"], f["reason"]) for f in card.json()} == {("cancelled", reason)}


def test_ai_off_for_the_tenant_cancels_everything_at_the_next_sweep(alpha):
    lead, t0 = _scheduled_lead()
    configure(alpha, {"ai": {"enabled": False}})
    result = followups_sweep(now=t0 + MIN)
    assert result.sent == 0
    assert {(r.status, r.reason) for r in rows(lead)} == {("cancelled", "AI off for tenant")}


def test_followups_switched_off_cancels_pending(alpha):
    lead, t0 = _scheduled_lead()
    configure(alpha, {"followups": {"enabled": False}})
    followups_sweep(now=t0 + MIN)
    assert {(r.status, r.reason) for r in rows(lead)} == {("cancelled", "follow-ups off")}


@pytest.mark.parametrize("field, value, reason", [
    ("refused", True, "refused"), ("ai_enabled", False, "AI off for lead"), ("handler", "manager", "takeover"),
    ("last_inbound_at", "later", "client answered"), ("stage", StageKind.WON, "stage won"),
])
def test_the_sweep_rechecks_the_lead_before_sending(alpha, field, value, reason):
    """Even when a change bypassed the services (a raw update), the send-time check cancels with the reason."""
    lead, t0 = _scheduled_lead()
    if value == "manager":
        value = user_of(alpha, "manager")
    elif value == "later":
        value = timezone.now() + MIN
    elif field == "stage":
        value = stage_of_kind(value)
    Lead.objects.filter(pk=lead.pk).update(**{field: value})
    followups_sweep(now=t0 + 15 * MIN)
    assert rows(lead)[0].status == "cancelled" and rows(lead)[0].reason == reason
    assert touches(lead) == []


def test_no_followup_after_refusal_or_for_human_handled_leads(alpha):
    lead = client_writes("Не интересно")
    lead_update(lead=lead, actor=AI, refused=True)
    ai_says(lead, "Понял вас, всего доброго!")
    assert rows(lead) == []
    other = client_writes("Хочу дом")
    lead_takeover(lead=other, user=user_of(alpha, "head"))
    from conversations.services import message_send_by_user
    message_send_by_user(lead=other, user=user_of(alpha, "head"), text="Добрый день, я менеджер")
    assert rows(other) == []


def test_max_per_lead_per_silence(alpha):
    configure(alpha, {"followups": {"max_per_lead": 2, "steps": [{"after_minutes": m, "text": f"шаг {m}"}
                                                                 for m in (10, 20, 30, 40)]}})
    lead = client_writes("Сколько стоит?")
    t0 = ai_says(lead).sent_at
    assert [r.step for r in rows(lead, status="pending")] == [1, 2]
    followups_sweep(now=t0 + 10 * MIN)
    followups_sweep(now=t0 + 20 * MIN)
    followups_sweep(now=t0 + 300 * MIN)
    assert [says(m, t) for m, t in zip(touches(lead), ["шаг 10", "шаг 20"], strict=True)] == [True, True]
    # Another message of ours in the same silence: the budget of this silence is spent.
    ai_says(lead, "Вот наш каталог", purpose="content")
    assert rows(lead, status="pending") == []
    # The client answers: a new silence, a new budget.
    lead = client_writes("Спасибо, посмотрю", number=lead.phone)
    ai_says(lead, "Что скажете?")
    assert [r.step for r in rows(lead, status="pending")] == [1, 2]


def test_two_overdue_steps_never_go_out_together(alpha):
    lead = client_writes("Здравствуйте")
    t0 = ai_says(lead).sent_at
    result = followups_sweep(now=t0 + 120 * MIN)  # the sweeper was down for two hours
    assert result.sent == 1
    first, second = rows(lead)
    assert first.status == "sent" and second.status == "pending"
    assert second.due_at >= first.done_at + 30 * MIN  # the gap between the steps
    assert followups_sweep(now=t0 + 121 * MIN).sent == 0
    assert followups_sweep(now=second.due_at).sent == 1


def test_a_row_that_cannot_be_sent_waits_and_the_rest_of_its_chunk_goes_out(alpha, caplog):
    """A chunk is written in bulk; a row that breaks it (its meta edited by hand into a list, on a WhatsApp lead
    whose window is closed, so the template lookup fails) rolls the chunk back, the chunk is redone row by row:
    the others go out, the broken row returns to the queue a minute later and nothing is lost. A row that keeps
    failing is skipped after a few tries, with the error as its reason (shown on the lead card)."""
    leads = [client_writes("Здравствуйте") for _ in range(3)]
    sent_at = [ai_says(lead).sent_at for lead in leads]
    bad = leads[1]
    Lead.objects.filter(pk=bad.pk).update(provider="whatsapp", last_inbound_at=sent_at[1] - timedelta(days=2))
    FollowUp.objects.filter(lead=bad).update(meta=["edited", "by hand"])
    due = max(sent_at) + 16 * MIN
    result = followups_sweep(now=due)
    assert (result.claimed, result.sent, result.deferred) == (3, 2, 1)
    assert "followups chunk of 3 failed; its rows go one by one" in caplog.text
    assert [len(touches(lead)) for lead in leads] == [1, 0, 1]
    first_step = rows(bad)[0]
    assert (first_step.step, first_step.status, first_step.due_at) == (1, "pending", due + MIN)
    assert first_step.claim_token is None and first_step.send_failures == 1
    for attempt in range(2, MAX_SEND_FAILURES + 1):
        result = followups_sweep(now=due + attempt * MIN)
        assert result.claimed == 1 and result.sent == 0
    first_step = rows(bad)[0]
    assert first_step.status == "skipped" and first_step.send_failures == MAX_SEND_FAILURES
    assert first_step.reason.startswith(f"send failed {MAX_SEND_FAILURES} times: AttributeError")
    assert touches(bad) == []


def test_quiet_hours_move_steps_to_the_morning_and_keep_the_gap(alpha):
    configure(alpha, {"followups": {"quiet_hours": {"start": "21:00", "end": "09:00"}}})
    lead = client_writes("Добрый вечер")
    ai_says(lead)
    evening = local("Asia/Almaty", 2030, 1, 15, 20, 50)
    first, second = followups_schedule(lead=lead, now=evening, rng=random.Random(7))
    tz = ZoneInfo("Asia/Almaty")
    assert local("Asia/Almaty", 2030, 1, 16, 9, 0) <= first.due_at.astimezone(tz) < \
        local("Asia/Almaty", 2030, 1, 16, 9, 20)
    assert second.due_at >= first.due_at + 30 * MIN
    assert followups_sweep(now=evening + 20 * MIN).sent == 0  # 21:10: nothing at night
    assert followups_sweep(now=local("Asia/Almaty", 2030, 1, 16, 2, 0)).sent == 0
    assert followups_sweep(now=first.due_at).sent == 1
    assert followups_sweep(now=second.due_at).sent == 1
    for row in rows(lead, status="sent"):
        assert 9 <= row.done_at.astimezone(tz).hour < 21


def test_quiet_hours_across_midnight(alpha):
    configure(alpha, {"followups": {"quiet_hours": {"start": "23:00", "end": "08:00"}, "spread_minutes": 10}})
    lead = client_writes("Ночной вопрос")
    ai_says(lead)
    late = local("Asia/Almaty", 2030, 1, 15, 22, 50)
    first, second = followups_schedule(lead=lead, now=late)
    tz = ZoneInfo("Asia/Almaty")
    for row in (first, second):
        due = row.due_at.astimezone(tz)
        assert due.date().day == 16 and (due.hour, due.minute // 10) in ((8, 0), (8, 1), (8, 2), (8, 3), (8, 4))
    # A row that somehow falls due inside quiet hours (e.g. config changed) is moved by the sweep itself.
    FollowUp.objects.filter(pk=first.pk).update(due_at=local("Asia/Almaty", 2030, 1, 16, 0, 30))
    assert followups_sweep(now=local("Asia/Almaty", 2030, 1, 16, 0, 31)).sent == 0
    moved = FollowUp.objects.get(pk=first.pk)
    assert moved.status == "pending"
    assert local("Asia/Almaty", 2030, 1, 16, 8, 0) <= moved.due_at.astimezone(tz) < local("Asia/Almaty", 2030, 1, 16,
                                                                                            8, 10)


def test_quiet_hours_follow_a_time_zone_change(alpha):
    configure(alpha, {"followups": {"quiet_hours": {"start": "21:00", "end": "09:00"}, "spread_minutes": 0}})
    lead = client_writes("Здравствуйте")
    ai_says(lead)
    morning = local("Asia/Almaty", 2030, 1, 16, 9, 0)
    first, _ = followups_schedule(lead=lead, now=morning)
    assert first.due_at == morning + 15 * MIN  # 09:15 Almaty
    configure(alpha, {"timezone": "Europe/Moscow"})  # 09:15 Almaty is 07:15 in Moscow: night there
    assert followups_sweep(now=first.due_at).sent == 0
    moved = FollowUp.objects.get(pk=first.pk)
    assert moved.status == "pending"
    assert moved.due_at.astimezone(ZoneInfo("Europe/Moscow")) == local("Europe/Moscow", 2030, 1, 16, 9, 0)
    assert followups_sweep(now=moved.due_at).sent == 1
    sent = FollowUp.objects.get(pk=first.pk)
    assert sent.done_at.astimezone(ZoneInfo("Europe/Moscow")).hour == 9


def _whatsapp_lead(number: str, *, window_open: bool):
    """A WhatsApp Cloud lead waiting for an answer (our message queued; no provider call in these tests)."""
    from conversations.services import message_send
    from leads.services import lead_create

    lead = lead_create(actor=AI, name="Айгуль", phone=number, channel="whatsapp", provider="whatsapp")
    if window_open:
        Lead.objects.filter(pk=lead.pk).update(last_inbound_at=timezone.now())
    lead.refresh_from_db()
    message_send(lead=lead, author_kind="ai", text="Здравствуйте! Вы оставляли заявку")
    lead.refresh_from_db()
    t0 = timezone.now()
    assert len(followups_schedule(lead=lead, now=t0)) >= 1
    return lead, t0


def test_whatsapp_outside_24h_needs_the_template(alpha):
    lead, t0 = _whatsapp_lead("77011112233", window_open=False)
    followups_sweep(now=t0 + 15 * MIN)
    skipped = rows(lead)[0]
    assert (skipped.status, skipped.reason) == ("skipped", WA_NO_TEMPLATE)
    assert touches(lead) == []
    configure(alpha, {"channels": {"whatsapp_cloud": {"followup_template": "followup_1", "template_language": "ru"}}})
    followups_sweep(now=t0 + 45 * MIN)
    [message] = touches(lead)
    assert message.kind == "template" and message.template == {"name": "followup_1", "language": "ru"}


def test_whatsapp_inside_24h_sends_free_text(alpha):
    lead, t0 = _whatsapp_lead("77011112244", window_open=True)
    followups_sweep(now=t0 + 15 * MIN)
    [message] = touches(lead)
    assert message.kind == "text" and says(message, "Подскажите, актуально?")


def test_step_template_overrides_tenant_template(alpha):
    configure(alpha, {"followups": {"steps": [{"after_minutes": 5, "text": "Актуально?", "template": "nudge_ru"}]},
                      "channels": {"whatsapp_cloud": {"followup_template": "followup_1"}}})
    lead, t0 = _whatsapp_lead("77011112255", window_open=False)
    followups_sweep(now=t0 + 5 * MIN)
    assert touches(lead)[0].template["name"] == "nudge_ru"


def test_no_quiet_settings_fixture_sanity(alpha):
    from followups.scheduling import settings_current

    assert settings_current().quiet_start == NO_QUIET["start"]


def test_an_english_client_gets_the_steps_english_variant(alpha):
    configure(alpha, {"followups": {"steps": [{"after_minutes": 15, "text": "Подскажите, актуально?",
                                               "text_en": "Is the house still on your mind?"}]}})
    lead = client_writes("Hello, how much is a house?")
    lead.ai_state = {**(lead.ai_state or {}), "language": "en"}
    lead.save(update_fields=["ai_state"])
    t0 = ai_says(lead).sent_at
    assert followups_sweep(now=t0 + 15 * MIN).sent == 1
    (touch,) = touches(lead)
    assert "is the house still on your mind?" in touch.text.lower() and "актуально" not in touch.text
