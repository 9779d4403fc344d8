"""Demo data for `manage.py seed_demo`: a dozen live-looking leads with dialogs on the sandbox channel,
spread over the seven stages, so the board is alive on first open. Rows are written directly (the history
is already "sent"/"received": no Celery sends, no websocket pushes)."""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal

from django.db import transaction
from django.utils import timezone

from accounts.models import Role, User
from conversations.models import AuthorKind, Direction, Message, MessageStatus
from followups.models import FollowUp, FollowUpStatus
from leads.models import ActorKind, Channel, Lead, LeadEvent, LeadIdentity, Stage, StageKind
from leads.services import message_preview
from tasks.services import call_due_at, task_for_call_request

log = logging.getLogger("buildcrm.leads")

GREETING = "Здравствуйте{name}! Меня зовут Алия, я помогу с вашим запросом. Расскажите, пожалуйста, что вас интересует?"


@dataclass
class DemoLead:
    name: str
    phone: str
    city: str
    stage: str
    score: int
    temperature: str
    reasons: list[dict]
    data: dict
    dialog: list[tuple[str, int, str]]  # (who: c | ai | m, minutes after the first message, text)
    hours_ago: float
    assignee: int | None = None  # index into the demo managers
    waiting: bool = False  # our last message is unanswered ("no answer" flag)
    human: bool = False  # a manager took the dialog over
    call: str = ""  # preferred call time when the client asked for a call
    refused: bool = False
    source: str = "sandbox"
    extra_events: list[tuple[str, str]] = field(default_factory=list)


def _dims(length: float, width: float, height: float) -> dict:
    return {"length": length, "width": width, "height": height}


_CITY = {"field": "city", "label": "Город", "label_en": "City"}
_DIMS = {"field": "dimensions", "label": "Размеры дома", "label_en": "House dimensions"}
# The demo's reasons as the engine writes them (brain.engine: key + params), so the PWA shows them in the UI's
# language; the ones the engine never gives have their own keys in the PWA's dictionary (`reason.*`).
DEMO_REASON_KEYS: dict[str, tuple[str, dict]] = {
    "Указала город": ("known", _CITY), "Указал город": ("known", _CITY), "Просит звонок": ("call_request", {}),
    "Назвал размеры": ("known", _DIMS), "Назвала размеры": ("known", _DIMS), "Все размеры": ("known", _DIMS),
    "Есть проект": ("known", {"field": "has_project", "label": "Есть проект", "label_en": "Has a project"}),
    "Срочно": ("urgent_now", {}), "Интересуется ценой": ("price_interest", {}), "Отказ": ("refused", {}),
    "Пришёл по рекламе, пока без ответа": ("came_from_ads", {}), "Подписала договор": ("contract_signed", {}),
    "Все данные": ("all_details", {}), "Указал количество окон и дверей": ("windows_doors", {}),
    "Готова начать": ("ready_to_start", {}), "Есть участок": ("has_plot", {}),
    "Сама написала в WhatsApp": ("wrote_first", {}),
}


def _r(points: int, reason: str, quote: str = "") -> dict:
    key, params = DEMO_REASON_KEYS.get(reason, ("", {}))
    out = {"points": points, "reason": reason, **({"key": key, "params": dict(params)} if key else {})}
    return {**out, "quote": quote} if quote else out


# Deal amounts (tenge) of the demo's further leads, so the board's stage totals and the revenue tables show money.
DEMO_AMOUNTS: dict[str, Decimal] = {
    "77081234505": Decimal("18500000"), "77011234506": Decimal("24000000"), "77061234507": Decimal("12000000"),
    "77021234509": Decimal("21600000"), "77001234510": Decimal("15800000"), "77091234511": Decimal("19900000"),
    "77051234512": Decimal("9000000"),
}

DEMO_LEADS: list[DemoLead] = [
    DemoLead(
        name="Айгерим Садыкова", phone="77012345601", city="", stage=StageKind.NEW, score=10,
        temperature="cold", reasons=[_r(10, "Сама написала в WhatsApp", "Здравствуйте, сколько стоит дом?")],
        data={}, hours_ago=0.3, waiting=True,
        dialog=[("c", 0, "Здравствуйте, сколько стоит дом?"),
                ("ai", 1, GREETING.format(name=", Айгерим") + " В каком городе планируете строительство и какой "
                          "примерно размер дома?")],
    ),
    DemoLead(
        name="Нурлан Жумабаев", phone="77021234502", city="", stage=StageKind.NEW, score=5, temperature="cold",
        reasons=[_r(5, "Пришёл по рекламе, пока без ответа")], data={}, hours_ago=2, waiting=True,
        source="instagram_ads",
        dialog=[("c", 0, "Добрый день"),
                ("ai", 1, GREETING.format(name=", Нурлан")),
                ("ai", 46, "Нурлан, подскажите, актуально? Могу прислать примеры наших домов и цены за м².")],
    ),
    DemoLead(
        name="Мадина Ахметова", phone="77051234503", city="Алматы", stage=StageKind.IN_DIALOG, score=38,
        temperature="warm",
        reasons=[_r(20, "Указала город", "строим в Алматы, Каскелен"),
                 _r(18, "Есть участок", "участок уже есть, 8 соток")],
        data={"city": "Алматы"}, hours_ago=5, assignee=0,
        dialog=[("c", 0, "Салеметсіз бе! Интересует каркасный дом"),
                ("ai", 1, GREETING.format(name="")),
                ("c", 4, "Строим в Алматы, Каскелен. Участок уже есть, 8 соток"),
                ("ai", 5, "Отлично, Каскелен — наш район, бригада рядом. Какой размер дома планируете: длина, "
                          "ширина и высота этажа?"),
                ("c", 12, "Пока думаем, может 10 на 8")],
    ),
    DemoLead(
        name="Ержан Касымов", phone="77071234504", city="Астана", stage=StageKind.IN_DIALOG, score=45,
        temperature="warm",
        reasons=[_r(20, "Указал город", "дом под Астаной"), _r(25, "Назвал размеры", "12 на 10, высота 3")],
        data={"city": "Астана", "dimensions": _dims(12, 10, 3)}, hours_ago=9, assignee=1,
        dialog=[("c", 0, "Здравствуйте, хочу дом под Астаной"),
                ("ai", 1, GREETING.format(name=", Ержан") + " Какой размер дома планируете?"),
                ("c", 7, "12 на 10, высота 3"),
                ("ai", 8, "Понял: 12×10 м, высота 3 м. Сколько будет окон и дверей? И будете ли закрывать "
                          "фундамент?"),
                ("c", 30, "Окон наверное 8, про фундамент пока не знаю")],
    ),
    DemoLead(
        name="Сауле Нурпеисова", phone="77081234505", city="Шымкент", stage=StageKind.REQUESTS_CALL, score=72,
        temperature="hot",
        reasons=[_r(30, "Просит звонок", "перезвоните мне сегодня после 18:00"),
                 _r(20, "Указала город", "Шымкент"), _r(22, "Назвала размеры", "9 на 9, два этажа")],
        data={"city": "Шымкент", "dimensions": _dims(9, 9, 6), "has_project": True}, hours_ago=3,
        assignee=0, call="сегодня после 18:00",
        dialog=[("c", 0, "Добрый день. Нужен дом в Шымкенте, 9 на 9, два этажа"),
                ("ai", 1, GREETING.format(name=", Сауле") + " Есть ли у вас готовый проект или фото понравившегося "
                          "дома?"),
                ("c", 6, "Проект есть, могу скинуть"),
                ("ai", 7, "Отлично! Пришлите, пожалуйста, проект сюда — инженер посчитает смету."),
                ("c", 15, "Лучше перезвоните мне сегодня после 18:00, обсудим голосом"),
                ("ai", 16, "Договорились, Сауле: менеджер позвонит вам сегодня после 18:00.")],
    ),
    DemoLead(
        name="Бауыржан Омаров", phone="77011234506", city="Караганда", stage=StageKind.REQUESTS_CALL, score=80,
        temperature="hot",
        reasons=[_r(30, "Просит звонок", "позвоните, хочу обсудить сроки"),
                 _r(25, "Срочно", "заезжать хотим до зимы"), _r(25, "Назвал размеры", "10 на 12")],
        data={"city": "Караганда", "dimensions": _dims(10, 12, 3), "windows": 10, "doors": 2},
        hours_ago=26, assignee=1, human=True,
        dialog=[("c", 0, "Здравствуйте, дом 10 на 12 в Караганде, заезжать хотим до зимы"),
                ("ai", 1, GREETING.format(name=", Бауыржан") + " Сколько окон и дверей планируете?"),
                ("c", 9, "Окон 10, дверей 2"),
                ("ai", 10, "Спасибо! Для дома 10×12 м с 10 окнами сроки — от 45 дней. Удобно, если менеджер "
                           "позвонит и обсудит детали?"),
                ("c", 20, "Да, позвоните, хочу обсудить сроки"),
                ("m", 95, "Бауыржан, добрый день! Это Ерлан, менеджер. Звонил вам — не дозвонился. Когда удобно "
                          "поговорить?"),
                ("c", 130, "Завтра с 10 до 12")],
    ),
    DemoLead(
        name="Гульнара Тлеубаева", phone="77061234507", city="Алматы", stage=StageKind.INCOMPLETE, score=40,
        temperature="warm",
        reasons=[_r(20, "Указала город", "в Алматы, Алатауский район"),
                 _r(20, "Назвала размеры", "примерно 8 на 10")],
        data={"city": "Алматы", "dimensions": _dims(8, 10, 3)}, hours_ago=50, waiting=True,
        dialog=[("c", 0, "Здравствуйте! Дом в Алматы, Алатауский район, примерно 8 на 10"),
                ("ai", 1, GREETING.format(name=", Гульнара") + " Высота этажа стандартная, 3 м?"),
                ("c", 25, "Да, 3 метра"),
                ("ai", 26, "Спасибо! Сколько окон и дверей планируете, и будете ли закрывать фундамент?"),
                ("ai", 24 * 60, "Гульнара, подскажите, актуально? Могу сразу посчитать примерную стоимость.")],
    ),
    DemoLead(
        name="Данияр Абенов", phone="77041234508", city="Павлодар", stage=StageKind.INCOMPLETE, score=30,
        temperature="cold",
        reasons=[_r(15, "Указал город", "Павлодар"), _r(15, "Интересуется ценой", "сколько за квадрат?")],
        data={"city": "Павлодар", "foundation_closed": False}, hours_ago=70, assignee=0,
        dialog=[("c", 0, "Сколько за квадрат? Павлодар"),
                ("ai", 1, GREETING.format(name=", Данияр") + " Цена зависит от размеров. Какой дом планируете?"),
                ("c", 40, "Пока не решили. Фундамент закрывать не будем")],
    ),
    DemoLead(
        name="Асель Мухамедиярова", phone="77021234509", city="Астана", stage=StageKind.COMPLETE, score=85,
        temperature="hot",
        reasons=[_r(25, "Все размеры", "10 на 10, высота 3,2"), _r(20, "Есть проект", "проект от архитектора"),
                 _r(20, "Указала город", "Астана, Косшы"), _r(20, "Готова начать", "начать хотим в мае")],
        data={"city": "Астана", "dimensions": _dims(10, 10, 3.2), "windows": 9, "doors": 3,
              "foundation_closed": True, "has_project": True},
        hours_ago=30, assignee=1,
        dialog=[("c", 0, "Добрый день, у нас проект от архитектора, дом 10 на 10, высота 3,2. Астана, Косшы"),
                ("ai", 1, GREETING.format(name=", Асель") + " Сколько окон и дверей по проекту?"),
                ("c", 5, "9 окон, 3 двери. Фундамент закрываем"),
                ("ai", 6, "Спасибо, данные полные: 10×10×3,2 м, 9 окон, 3 двери, закрытый фундамент. Передаю "
                          "инженеру на расчёт сметы."),
                ("c", 9, "Отлично, начать хотим в мае")],
    ),
    DemoLead(
        name="Тимур Искаков", phone="77001234510", city="Караганда", stage=StageKind.COMPLETE, score=75,
        temperature="hot",
        reasons=[_r(25, "Все размеры", "12 на 8 на 3"), _r(25, "Указал количество окон и дверей", "окон 7, двери 2"),
                 _r(25, "Указал город", "Караганда")],
        data={"city": "Караганда", "dimensions": _dims(12, 8, 3), "windows": 7, "doors": 2,
              "foundation_closed": False, "has_project": False},
        hours_ago=100, assignee=0,
        dialog=[("c", 0, "Дом 12 на 8 на 3, Караганда"),
                ("ai", 1, GREETING.format(name=", Тимур") + " Сколько окон и дверей?"),
                ("c", 3, "Окон 7, двери 2, проекта нет"),
                ("ai", 4, "Принято! Без проекта не страшно — подберём типовой. Менеджер пришлёт смету сегодня."),
                ("c", 6, "Спасибо, жду")],
    ),
    DemoLead(
        name="Ботагоз Сейткали", phone="77091234511", city="Алматы", stage=StageKind.WON, score=95,
        temperature="hot",
        reasons=[_r(40, "Подписала договор", "договор подписали, предоплату внесли"),
                 _r(30, "Все данные", "10 на 9, проект есть"), _r(25, "Указала город", "Алматы")],
        data={"city": "Алматы", "dimensions": _dims(10, 9, 3), "windows": 8, "doors": 2, "foundation_closed": True,
              "has_project": True},
        hours_ago=24 * 12, assignee=1,
        dialog=[("c", 0, "Здравствуйте, дом 10 на 9 в Алматы, проект есть"),
                ("ai", 1, GREETING.format(name=", Ботагоз") + " Сколько окон и дверей по проекту?"),
                ("c", 8, "8 окон, 2 двери, фундамент закрываем"),
                ("ai", 9, "Спасибо! Данные полные, менеджер свяжется с вами для сметы."),
                ("c", 3 * 24 * 60, "Договор подписали, предоплату внесли. Спасибо!")],
    ),
    DemoLead(
        name="Ринат Галиев", phone="77051234512", city="Шымкент", stage=StageKind.LOST, score=5, temperature="cold",
        reasons=[_r(-30, "Отказ", "уже нашли другого подрядчика"), _r(15, "Указал город", "Шымкент")],
        data={"city": "Шымкент"}, hours_ago=24 * 6, refused=True,
        dialog=[("c", 0, "Сколько стоит баня 6 на 4 в Шымкенте?"),
                ("ai", 1, GREETING.format(name=", Ринат") + " Баню 6×4 м тоже строим. Высота стандартная?"),
                ("c", 60, "Спасибо, уже нашли другого подрядчика"),
                ("ai", 61, "Понимаю, Ринат! Если что-то изменится — пишите, будем рады помочь.")],
    ),
]


def _at(base: datetime, minutes: float) -> datetime:
    return base + timedelta(minutes=minutes)


def _event(lead: Lead, at: datetime, kind: str, actor_kind: str, *, user=None, field_name: str = "",
           before=None, after=None, text: str = "") -> LeadEvent:
    event = LeadEvent.objects.create(lead=lead, kind=kind, actor_kind=actor_kind, actor_user=user, field=field_name,
                                     before=before, after=after, text=text)
    LeadEvent.objects.filter(pk=event.pk).update(created_at=at)
    return event


def _stage_ref(stage: Stage) -> dict:
    return {"id": stage.pk, "name": stage.name, "kind": stage.kind}


def _seed_one(spec: DemoLead, *, now: datetime, stages: dict[str, Stage], managers: list) -> Lead:
    start = now - timedelta(hours=spec.hours_ago)
    last_minute = spec.dialog[-1][1]
    if _at(start, last_minute) > now:  # keep the whole dialog in the past
        start = now - timedelta(minutes=last_minute + 5)
    stage = stages.get(spec.stage) or stages[StageKind.NEW]
    assignee = managers[spec.assignee % len(managers)] if spec.assignee is not None and managers else None
    lead = Lead.objects.create(
        name=spec.name, phone=spec.phone, city=spec.city, channel=Channel.SANDBOX, provider="sandbox",
        source=spec.source, stage=stage, data=spec.data, score=spec.score, temperature=spec.temperature,
        score_reasons=spec.reasons, assignee=assignee, handler=assignee if spec.human else None,
        refused=spec.refused, call_requested=bool(spec.call), preferred_time=spec.call,
        ai_state={"demo": True}, amount=DEMO_AMOUNTS.get(spec.phone),
    )
    LeadIdentity.objects.create(lead=lead, channel=Channel.SANDBOX, identity=spec.phone)
    _event(lead, start, "created", ActorKind.SYSTEM, text="Новая заявка из канала sandbox")

    last: Message | None = None
    last_in = last_out = None
    for index, (who, minute, text) in enumerate(spec.dialog):
        at = _at(start, minute)
        inbound = who == "c"
        author = {"c": AuthorKind.CLIENT, "ai": AuthorKind.AI, "m": AuthorKind.USER}[who]
        message = Message.objects.create(
            lead=lead, direction=Direction.IN if inbound else Direction.OUT, kind="text", text=text,
            status=MessageStatus.RECEIVED if inbound else MessageStatus.READ, provider="sandbox",
            provider_message_id=f"demo-{spec.phone}-{index}", author_kind=author,
            author_user=assignee if who == "m" else None,
            purpose="client" if inbound else ("human" if who == "m" else ("first_contact" if index <= 1 else "reply")),
        )
        Message.objects.filter(pk=message.pk).update(created_at=at, sent_at=None if inbound else at)
        message.created_at = at
        last = message
        if inbound:
            last_in = at
        else:
            last_out = at
        if who == "m" and spec.human and assignee is not None:
            _event(lead, _at(start, minute - 1), "takeover", ActorKind.USER, user=assignee, field_name="handled_by",
                   before="ai", after=assignee.email)

    first_reply = _at(start, spec.dialog[1][1] if len(spec.dialog) > 1 else 1)
    for key, value in spec.data.items():
        _event(lead, first_reply + timedelta(minutes=5), "data_changed", ActorKind.AI, field_name=key, after=value)
    if spec.city:
        _event(lead, first_reply + timedelta(minutes=5), "field_changed", ActorKind.AI, field_name="city",
               before="", after=spec.city)
    _event(lead, first_reply + timedelta(minutes=6), "score_changed", ActorKind.AI, field_name="score",
           before={"score": 0, "temperature": "cold"}, after={"score": spec.score, "temperature": spec.temperature})
    if stage.kind != StageKind.NEW:
        _event(lead, first_reply + timedelta(minutes=6), "stage_changed", ActorKind.AI, field_name="stage",
               before=_stage_ref(stages[StageKind.NEW]), after=_stage_ref(stage))
    if assignee is not None:
        _event(lead, first_reply + timedelta(minutes=10), "assigned", ActorKind.SYSTEM, field_name="assignee",
               after=assignee.email)
    if spec.call:
        # The call the client asked for: on the timeline in words and on the manager's task list.
        due, named = call_due_at(preferred_time=spec.call)
        _event(lead, first_reply + timedelta(minutes=7), "call_requested", ActorKind.AI,
               after={"preferred_time": spec.call, "due_at": due.isoformat(), "named": named},
               text=f"Клиент просит звонок: {spec.call}")
        task_for_call_request(lead_id=lead.pk, preferred_time=spec.call, due_at=due.isoformat())
    if spec.refused:
        _event(lead, last_in or first_reply, "field_changed", ActorKind.AI, field_name="refused", before=False,
               after=True)

    waiting_out = spec.waiting and last is not None and last.direction == Direction.OUT
    if waiting_out:
        # The unanswered follow-up touch that is already out (kept as history, never re-sent).
        if last.purpose == "reply" and len(spec.dialog) > 2:
            Message.objects.filter(pk=last.pk).update(purpose="followup")
            FollowUp.objects.create(lead=lead, kind="followup", step=1, text=last.text, due_at=last.created_at,
                                    status=FollowUpStatus.SENT, message=last, done_at=last.created_at)
    # The seeded dialog is history the AI has already answered: without this the unanswered-messages sweep would
    # make the AI reply at start-up to a client message written hours ago.
    newest_in = lead.messages.filter(direction=Direction.IN).order_by("-id").values_list("id", flat=True).first()
    memory = {"demo": True, "answered_upto": newest_in or 0, "greeted": True,
              "client_messages": sum(1 for who, _minute, _text in spec.dialog if who == "c")}
    Lead.objects.filter(pk=lead.pk).update(
        ai_state=memory,
        created_at=start, last_message=message_preview(last) if last is not None else None,
        last_message_at=last.created_at if last else None, last_inbound_at=last_in, last_outbound_at=last_out,
        waiting_since=last_out if waiting_out else None,
    )
    return lead


def seed_demo_leads() -> None:
    """Seeds the current tenant schema once; does nothing when it already has leads."""
    if Lead.objects.exists():
        log.info("demo leads already there: skipped")
        return
    stages = {}
    for stage in Stage.objects.order_by("position", "id"):
        stages.setdefault(stage.kind, stage)
    if StageKind.NEW not in stages:
        log.warning("demo leads: no `new` stage, nothing seeded")
        return
    managers = list(User.objects.filter(role=Role.MANAGER, is_active=True).order_by("id"))
    if not managers:
        managers = list(User.objects.filter(role__in=(Role.HEAD, Role.OWNER), is_active=True).order_by("id"))
    now = timezone.now()
    with transaction.atomic():
        for spec in DEMO_LEADS:
            _seed_one(spec, now=now, stages=stages, managers=managers)
    log.info("demo leads seeded=%s by=system", len(DEMO_LEADS))
