"""The built-in offline brain: plays the AI sales manager for one turn, deterministically, no network.

It acts only through the contract's tools (section 6); code elsewhere decides stage and score from them.
Policy in one breath: record whatever the client said, answer what they asked, ask at most one or two
missing required fields per reply (never a questionnaire), route refusals / human requests / call requests
to their tools, and once the required data is in, switch to selling (summary + push toward a call).
Phrasing is varied by `turn` so a dialog never repeats the same sentence twice in a row.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from brain.knowledge import (
    EMPTY,
    ContentOffer,
    FreeSlot,
    Knowledge,
    MessageWords,
    PersonaSpec,
    asks_delivery,
    best_content,
    best_qa,
    best_term,
    delivery_rule,
    estimate_text,
    matching_prices,
    per_area,
    price_text,
    slots_matching,
)
from brain.nlu import (
    CITY_EN,
    CONTENT_KINDS,
    Extraction,
    _stem,
    asks_content,
    check_deadline,
    extract,
    guess_language,
    is_question,
    parse_when,
    wants_text_only,
)

# ---------------------------------------------------------------------------------------------------------
# Data


@dataclass
class ToolCall:
    name: str
    arguments: dict[str, Any]


@dataclass
class DialogState:
    fields: list[dict[str, Any]]
    data: dict[str, Any] = field(default_factory=dict)
    name: str | None = None
    city: str | None = None
    language: str | None = None
    stage_kind: str = "new"  # new|in_dialog|requests_call|incomplete|complete|won|lost
    call_requested: bool = False
    preferred_time: str | None = None
    price_asked_count: int = 0  # how many times the client asked the price before this turn
    awaiting: list[str] = field(default_factory=list)  # what we asked last turn
    facts: list[dict[str, Any]] = field(default_factory=list)
    turn: int = 0  # number of AI turns so far; seeds the choice of phrasing
    source_info: str = ""
    company: str = ""
    facts_used: list[int] = field(default_factory=list)
    # Issue 14: what the tenant taught the AI, the content it may send, free calendar slots (empty = no calendar),
    # the AI's persona, every text the AI already sent in this dialog (never repeated), and "now" in the tenant's zone.
    knowledge: Knowledge = EMPTY
    content: list[ContentOffer] = field(default_factory=list)
    free_slots: list[FreeSlot] = field(default_factory=list)
    persona: PersonaSpec = field(default_factory=PersonaSpec)
    sent_texts: list[str] = field(default_factory=list)
    timezone: str = "UTC"
    now_iso: str = ""


@dataclass
class TurnPlan:
    tool_calls: list[ToolCall]
    replies: list[str]
    awaiting: list[str]
    language: str
    extraction: Extraction
    facts_used: list[int] = field(default_factory=list)  # indices of facts newly used this turn


# ---------------------------------------------------------------------------------------------------------
# Phrasebook. Questions are phrases without '?' so two can be joined into one sentence.

_QUESTIONS: dict[str, dict[str, str]] = {
    "city": {"ru": "в каком городе планируете строительство", "en": "which city the house will be in"},
    "dimensions": {
        "ru": "какие примерно размеры дома — длина, ширина и высота",
        "en": "what the approximate size of the house is — length, width and height",
    },
    "dimensions_height": {
        "ru": "какая будет высота этажа (стен)",
        "en": "how high the walls (a floor) will be",
    },
    "foundation_closed": {
        "ru": "будете ли закрывать фундамент",
        "en": "whether you plan to close the foundation",
    },
    "windows": {"ru": "сколько планируется окон", "en": "how many windows you are planning"},
    "doors": {"ru": "сколько будет дверей", "en": "how many doors there will be"},
    "has_project": {
        "ru": "есть ли у вас проект или фото того, что хотите",
        "en": "whether you have a project or photos of what you want",
    },
    "company_size": {"ru": "сколько человек у вас в команде", "en": "how many people are in your team"},
    "budget": {"ru": "на какой бюджет ориентируетесь", "en": "what budget you have in mind"},
    "needs": {"ru": "какую задачу хотите решить", "en": "what task you would like to solve"},
    "urgency": {"ru": "насколько срочно нужно решение", "en": "how soon you need a solution"},
    "has_crm": {"ru": "пользуетесь ли сейчас какой-то CRM", "en": "whether you already use a CRM"},
    "name": {"ru": "как к вам обращаться", "en": "what your name is"},
    "preferred_time": {
        "ru": "в какое время вам удобно принять звонок",
        "en": "what time suits you for a call",
    },
    "name+preferred_time": {
        "ru": "как к вам обращаться и в какое время удобно созвониться",
        "en": "what your name is and what time suits you for a call",
    },
}

_ASK_ONE = {
    "ru": [
        "Подскажите, {q}?",
        "{Q}?",
        "И ещё вопрос: {q}?",
        "Уточните, пожалуйста, {q}?",
        "А {q}?",
        "Кстати, {q}?",
        "Расскажите, {q}?",
    ],
    "en": [
        "Could you tell me {q}?",
        "May I ask {q}?",
        "One more thing: could you tell me {q}?",
        "Could you share {q}?",
        "Could you let me know {q}?",
        "Would you mind telling me {q}?",
        "And could you tell me {q}?",
    ],
}
_ASK_TWO = {
    "ru": ["Подскажите, {q1} и {q2}?", "Уточните, пожалуйста: {q1} и {q2}?", "Расскажите, {q1} и {q2}?"],
    "en": ["Could you tell me {q1}, and {q2}?", "May I ask {q1}, and {q2}?"],
}
_ACK = {
    "ru": [
        "Отлично, {x} — записал.",
        "Понял: {x}.",
        "Спасибо, {x} — принято.",
        "Хорошо, {x}.",
        "Записал: {x}.",
    ],
    "en": ["Great, {x} — noted.", "Got it: {x}.", "Thanks, {x} — noted.", "Perfect, {x}."],
}
_ACK_DIMS = {
    "ru": [
        "Отлично, дом {d} — хороший размер.",
        "Дом {d} — понял, с такими размерами работаем.",
        "{d} — записал, удобный размер для дома.",
    ],
    "en": [
        "Great, a {d} house — a good size.",
        "A {d} house — got it, we build those.",
        "{d} — noted, a comfortable size for a house.",
    ],
}
_GREET = {
    "ru": ["Здравствуйте{n}!", "Добрый день{n}!", "Здравствуйте{n}, рад вашему сообщению!"],
    "en": ["Hello{n}!", "Hi{n}!", "Hello{n}, glad to hear from you!"],
}
_NICE = {
    "ru": ["Приятно познакомиться, {n}!", "{n}, очень приятно!"],
    "en": ["Nice to meet you, {n}!", "{n}, nice to meet you!"],
}
_OFF_TOPIC = {
    "ru": [
        "Понимаю вас. Чтобы я мог помочь по делу, давайте вернёмся к расчёту.",
        "Спасибо, что написали! Я помогаю с подбором и расчётом — давайте продолжим.",
        "Спасибо! А теперь вернёмся к вашему запросу.",
        "Понял. Чтобы подготовить для вас предложение, мне не хватает пары деталей.",
    ],
    "en": [
        "I see. To help you properly, let's get back to your request.",
        "Thanks for writing! I help with choosing and pricing — let's continue.",
        "Thanks! Now, back to your request.",
        "Understood. To prepare an offer for you I need a couple more details.",
    ],
}
_REFUSAL = {
    "ru": [
        "Понял вас{n}, больше не побеспокоим. Если вопрос снова станет актуальным — просто напишите. Хорошего дня!",
        "Спасибо, что ответили{n}! Не буду отвлекать. Если понадобимся — мы на связи.",
        "Хорошо{n}, понял. Будем рады помочь, если что-то изменится. Всего доброго!",
    ],
    "en": [
        "Understood{n}, we won't bother you. If it becomes relevant again, just write. Have a good day!",
        "Thanks for letting me know{n}! I won't disturb you. We're here if you need us.",
        "Got it{n}. Happy to help if anything changes. All the best!",
    ],
}
_HANDOFF = {
    "ru": [
        "Конечно{n}! Передаю диалог коллеге — он подключится в ближайшее время.",
        "Хорошо{n}, сейчас подключу менеджера, он ответит вам здесь же.",
        "Понял{n}. Коллега из отдела продаж скоро присоединится к переписке.",
    ],
    "en": [
        "Of course{n}! I'm passing the conversation to a colleague — they'll join shortly.",
        "Sure{n}, I'm bringing in a manager; they'll reply right here.",
        "Understood{n}. A colleague from sales will join the chat soon.",
    ],
}
_CALL_ASK = {
    "ru": ["С удовольствием позвоним!", "Конечно, организуем звонок.", "Хорошо, менеджер вам позвонит."],
    "en": ["We'd be happy to call you!", "Sure, let's arrange a call.", "Okay, a manager will call you."],
}
_CALL_CONFIRM = {
    "ru": [
        "Отлично{n}! Передал менеджеру — он позвонит вам {t}.",
        "Договорились{n}: менеджер наберёт вас {t}.",
        "Записал{n}: звонок {t}. Менеджер будет на связи.",
    ],
    "en": [
        "Great{n}! I've passed it on — a manager will call you {t}.",
        "Deal{n}: a manager will call you {t}.",
        "Noted{n}: a call {t}. A manager will be in touch.",
    ],
}
_PRICE_DEPENDS = {
    "ru": [
        "Стоимость зависит от параметров: {p}.",
        "Цену считаем индивидуально — она зависит от: {p}.",
        "Чтобы назвать цену, мне нужно понимать {p}.",
    ],
    "en": [
        "The price depends on a few things: {p}.",
        "We price each case individually — it depends on {p}.",
        "To give you a price I need to know {p}.",
    ],
}
_PRICE_OFFER_CALL = {
    "ru": [
        "Если удобнее, менеджер может позвонить и сразу всё рассчитать.",
        "А если хотите быстрее — менеджер перезвонит и посчитает по телефону.",
        "Можно и созвониться: менеджер сделает точный расчёт.",
    ],
    "en": [
        "If you prefer, a manager can call you and work out the numbers right away.",
        "Or, to be quicker, a manager can call and calculate it over the phone.",
        "We can also talk by phone: a manager will make an exact calculation.",
    ],
}
_PRICE_INSIST = {
    "ru": [
        "Понимаю, хочется сразу цифру. Передаю менеджеру — он позвонит{t} с точным расчётом.",
        "Понял вас! Чтобы не гадать, менеджер перезвонит{t} с точным расчётом стоимости.",
        "Хорошо, не будем тянуть: менеджер свяжется с вами{t} с точным расчётом.",
    ],
    "en": [
        "I understand you want a number right away. A manager will call you{t} with an exact quote.",
        "Got it! Rather than guess, a manager will call you{t} with an exact calculation.",
        "Okay, no delays: a manager will contact you{t} with an exact calculation.",
    ],
}
_PRICE_READY = {
    "ru": [
        "С вашими параметрами ({s}) точную стоимость посчитает менеджер.",
        "По вашим данным ({s}) менеджер подготовит точный расчёт.",
    ],
    "en": [
        "With your details ({s}) a manager will calculate the exact price.",
        "Based on what you told me ({s}) a manager will prepare an exact quote.",
    ],
}
_PUSH = {
    "ru": [
        "Итак, {s}. Предлагаю короткий созвон с менеджером — он рассчитает стоимость и ответит на вопросы.",
        "Отлично, картина ясна: {s}. Следующий шаг — звонок менеджера с точным расчётом.",
        "Спасибо! Резюмирую: {s}. Давайте я организую звонок менеджера, чтобы обсудить детали.",
    ],
    "en": [
        "So: {s}. I suggest a short call with a manager — they'll calculate the price and answer questions.",
        "Great, the picture is clear: {s}. Next step: a call with a manager and an exact quote.",
        "Thanks! To sum up: {s}. Let me arrange a call with a manager to discuss the details.",
    ],
}
_ALREADY_CALL = {
    "ru": ["Менеджер уже в курсе и свяжется с вами{t}.", "Звонок менеджера уже запланирован{t}."],
    "en": [
        "A manager already has your request and will call you{t}.",
        "A call with a manager is already planned{t}.",
    ],
}
_CALL_DECLINED = {
    "ru": ["Без проблем, продолжим здесь.", "Хорошо, можем общаться в чате."],
    "en": ["No problem, let's continue here.", "Sure, we can keep chatting here."],
}
_WRAP = {
    "ru": ["Если появятся вопросы — пишите, я на связи.", "Будут вопросы — пишите в любое время."],
    "en": ["If you have any questions, just write — I'm here.", "Feel free to write any time."],
}

_BOOL_PHRASES: dict[str, dict[str, tuple[str, str]]] = {
    "foundation_closed": {
        "ru": ("фундамент закрываете", "фундамент не закрываете"),
        "en": ("you'll close the foundation", "you won't close the foundation"),
    },
    "has_project": {
        "ru": ("проект есть", "проекта пока нет"),
        "en": ("you have a project", "no project yet"),
    },
    "has_crm": {"ru": ("CRM уже есть", "CRM пока нет"), "en": ("you already use a CRM", "no CRM yet")},
}
_URGENCY_PHRASES = {
    "ru": {
        "now": "нужно срочно",
        "month": "в течение месяца",
        "quarter": "в этом квартале",
        "later": "не срочно",
    },
    "en": {"now": "it's urgent", "month": "within a month", "quarter": "this quarter", "later": "no rush"},
}
_PRICE_PARAM = {
    "city": {"ru": "города", "en": "the city"},
    "dimensions": {"ru": "размеров дома", "en": "the size of the house"},
    "company_size": {"ru": "размера команды", "en": "the size of your team"},
    "needs": {"ru": "задачи", "en": "your task"},
    "urgency": {"ru": "сроков", "en": "the timeline"},
}


def _pick(options: dict[str, list[str]], lang: str, turn: int, salt: int = 0) -> str:
    seq = options.get(lang) or options["ru"]
    return seq[(turn + salt) % len(seq)]


def _cap(s: str) -> str:
    return s[:1].upper() + s[1:]


def _num(v: Any) -> str:
    if isinstance(v, float) and v.is_integer():
        v = int(v)
    if isinstance(v, (int, float)) and abs(v) >= 10000:
        return f"{v:,.0f}".replace(",", " ")
    return str(v).replace(".", ",") if isinstance(v, float) else str(v)


def _dims_text(d: dict[str, Any], lang: str) -> str:
    parts = [_num(d[k]) for k in ("length", "width", "height") if d.get(k) is not None]
    return "×".join(parts) + (" м" if lang == "ru" else " m")


def _label(f: dict[str, Any], lang: str) -> str:
    if lang == "en":
        return str(f.get("label_en") or f.get("label") or f.get("key"))
    return str(f.get("label") or f.get("key"))


def _describe(f: dict[str, Any], value: Any, lang: str) -> str:
    """A short human phrase for one recorded value (used in acknowledgements and summaries)."""
    key, ftype = f.get("key", ""), f.get("type", "text")
    if ftype == "dimensions" and isinstance(value, dict):
        return ("дом " if lang == "ru" else "house ") + _dims_text(value, lang)
    if ftype == "boolean":
        if key in _BOOL_PHRASES:
            return _BOOL_PHRASES[key][lang][0 if value else 1]
        yes_no = ("да" if value else "нет") if lang == "ru" else ("yes" if value else "no")
        return f"{_label(f, lang).lower()}: {yes_no}"
    if key == "urgency" and value in _URGENCY_PHRASES[lang]:
        return _URGENCY_PHRASES[lang][value]
    if key == "company_size":
        return f"в команде {_num(value)} чел." if lang == "ru" else f"a team of {_num(value)}"
    if key == "budget":
        return f"бюджет {_num(value)}" if lang == "ru" else f"budget {_num(value)}"
    if key == "city":
        return f"город {value}" if lang == "ru" else CITY_EN.get(str(value), str(value))
    if key == "needs":
        return f"задача: «{value}»" if lang == "ru" else f"task: “{value}”"
    if key == "windows":
        return f"окон: {_num(value)}" if lang == "ru" else f"{_num(value)} windows"
    if key == "doors":
        return f"дверей: {_num(value)}" if lang == "ru" else f"{_num(value)} doors"
    return f"{_label(f, lang).lower()}: {_num(value)}"


def _question_phrase(f: dict[str, Any] | None, key: str, lang: str) -> str:
    if key in _QUESTIONS:
        return _QUESTIONS[key][lang]
    assert f is not None
    hint = str(f.get("hint") or "").strip()
    if hint.endswith("?") and lang == "ru":
        return hint[:-1][:1].lower() + hint[:-1][1:]
    label = _label(f, lang)
    ftype = f.get("type", "text")
    if ftype == "boolean":
        return f"«{label}» — да или нет" if lang == "ru" else f"“{label}” — yes or no"
    if ftype == "choice" and f.get("choices"):
        opts = ", ".join(str(c.get("label", c.get("value")) if isinstance(c, dict) else c) for c in f["choices"])
        return f"что выбираете по пункту «{label}» ({opts})" if lang == "ru" else f"your choice for “{label}” ({opts})"
    return f"что у вас по пункту «{label}»" if lang == "ru" else f"your “{label}”"


def _ask(
    keys: list[str],
    fields_by_key: dict[str, dict[str, Any]],
    lang: str,
    turn: int,
    used: set[str] | None = None,
    height_only: bool = False,
) -> str:
    """One question for `keys`, in the first phrasing not yet sent in this dialog ('' when every one was)."""
    if keys == ["name", "preferred_time"]:
        keys = ["name+preferred_time"]
    phrases = [_question_phrase(fields_by_key.get(k), k, lang) for k in keys[:2]]
    if keys == ["dimensions"] and height_only:
        phrases = [_QUESTIONS["dimensions_height"][lang]]
    if len(phrases) == 1:
        options = _ASK_ONE.get(lang) or _ASK_ONE["ru"]
        fmt = {"q": phrases[0], "Q": _cap(phrases[0])}
    else:
        options = _ASK_TWO.get(lang) or _ASK_TWO["ru"]
        fmt = {"q1": phrases[0], "q2": phrases[1]}
    if used is None:
        return options[turn % len(options)].format(**fmt)
    return _first_fresh(options, turn, used, **fmt)


# ---------------------------------------------------------------------------------------------------------
# Facts


def _lead_value(key: str, data: dict[str, Any], name: str | None, city: str | None) -> Any:
    if key == "city":
        return city or data.get("city")
    if key == "name":
        return name
    return data.get(key)


def _norm(v: Any) -> Any:
    return str(v).strip().lower().replace("ё", "е") if isinstance(v, str) else v


def _when_matches(when: dict[str, Any], data: dict[str, Any], name: str | None, city: str | None) -> bool:
    value = _lead_value(str(when.get("field", "")), data, name, city)
    op = when.get("op", "eq")
    target = when.get("value")
    present = value not in (None, "", {}, [])
    if op == "present":
        return present
    if not present:
        return False  # "ne Алматы" only speaks about leads whose city we know
    targets = target if isinstance(target, list) else [target]
    hit = _norm(value) in {_norm(t) for t in targets}
    return {"eq": hit, "in": hit, "ne": not hit, "not_in": not hit}.get(op, False)


def _keyword_hit(keywords: list[str], low_text: str) -> bool:

    words = set(low_text.split())
    for kw in keywords:
        k = _norm(kw)
        if not k:
            continue
        if " " in k:
            if k in low_text:
                return True
            continue
        stem = _stem(k) if len(_stem(k)) >= 4 else k
        if any(w.startswith(stem) for w in words):
            return True
    return False


_WORDS_RE = re.compile(r"[\w-]+")


def _select_facts(
    state: DialogState, text: str, data: dict[str, Any], name: str | None, city: str | None, lang: str
) -> tuple[list[str], list[int]]:

    low = " ".join(_WORDS_RE.findall(text.lower().replace("ё", "е")))
    texts: list[str] = []
    new_used: list[int] = []
    for i, fact in enumerate(state.facts or []):
        when = fact.get("when")
        asked = _keyword_hit(list(fact.get("keywords") or []), low)
        if when:
            if not _when_matches(when, data, name, city):
                continue
            use = asked or i not in state.facts_used  # a condition-triggered fact is said once
        else:
            use = asked  # unconditional facts answer questions about their keywords
        if not use:
            continue
        body = fact.get("text_en") if lang == "en" and fact.get("text_en") else fact.get("text")
        if body:
            texts.append(str(body))
            if i not in state.facts_used and i not in new_used:
                new_used.append(i)
    return texts, new_used


# ---------------------------------------------------------------------------------------------------------
# The turn


def _needs_height(f: dict[str, Any]) -> bool:
    """Dimensions 'with height': the field says so (`with_height`) or its hint names the height."""
    if "with_height" in f:
        return bool(f["with_height"])
    hint = str(f.get("hint") or "").lower()
    return "высот" in hint or "height" in hint


def _missing_required(fields: list[dict[str, Any]], data: dict[str, Any], city: str | None) -> list[str]:
    out = []
    for f in fields:
        if not f.get("required"):
            continue
        key = f["key"]
        value = data.get(key)
        if key == "city" and not value:
            value = city
        if f.get("type") == "dimensions":
            if not (isinstance(value, dict) and value.get("length") and value.get("width")):
                out.append(key)
            elif _needs_height(f) and not value.get("height"):
                out.append(key)  # «10 на 12» heard; the height is still to ask
        elif value in (None, "", [], {}):
            out.append(key)
    return out


def _missing_optional(fields: list[dict[str, Any]], data: dict[str, Any], city: str | None) -> list[str]:
    return [
        f["key"] for f in fields if not f.get("required") and f["key"] not in data and not (f["key"] == "city" and city)
    ]


_YES_RE = re.compile(r"^\s*(да|давайте|давай|ок|окей|ok|okay|yes|sure|конечно|можно|хорошо|ага|угу|го|yep|yeah)\b")
_NO_RE = re.compile(r"^\s*(нет|не надо|не нужно|no|nope|не стоит|неа)\b")
_MEETING_RE = re.compile(
    r"(?<![\w-])(встреч\w*|встрет\w*|приеду|приехать|подъеду|в офис\w*|meeting|meet|appointment|visit)(?![\w-])"
)
_ORDINAL = {
    "первый": 0,
    "первое": 0,
    "first": 0,
    "второй": 1,
    "второе": 1,
    "second": 1,
    "третий": 2,
    "третье": 2,
    "third": 2,
}
_ORDINAL_RE = re.compile(r"(?<![\w-])(" + "|".join(_ORDINAL) + r")(?![\w-])")
_WEEKDAY_WORDS = {
    "ru": ["в понедельник", "во вторник", "в среду", "в четверг", "в пятницу", "в субботу", "в воскресенье"],
    "en": ["on Monday", "on Tuesday", "on Wednesday", "on Thursday", "on Friday", "on Saturday", "on Sunday"],
}
_SENT_SPLIT_RE = re.compile(r"(?<=[.!?])\s+")
_NOT_WORD_RE = re.compile(r"[^\w]+")
_MASCULINE_RE = re.compile(
    r"(?<![\w-])(записал|понял|передал|рад|мог|уточнил|подготовил|отметил|запомнил)(?![\w-])", re.IGNORECASE
)
_FEMININE = {"мог": "могла", "Мог": "Могла"}
MARK = "~"  # awaiting entries starting with it are the planner's own memory, carried from turn to turn
NO_CALL, SUMMARY_SENT, KK_SAID, SLOTS_OFFERED = "~no_call", "~summary", "~kk", "~slots"


def _sentence_key(s: str) -> str:
    return " ".join(_NOT_WORD_RE.sub(" ", s[:2000].lower().replace("ё", "е")).split())


def _sent_keys(texts: list[str]) -> set[str]:
    """Every sentence the AI already sent in this dialog, normalised (case, punctuation, spaces)."""
    keys: set[str] = set()
    for t in texts[-200:]:
        for s in _SENT_SPLIT_RE.split(t[:4000]):
            k = _sentence_key(s)
            if k:
                keys.add(k)
    return keys


_LATIN = dict(zip("абвгдеёжзийклмнопрстуфхцчшщъыьэюяәғқңөұүһі",
                  ["a", "b", "v", "g", "d", "e", "yo", "zh", "z", "i", "y", "k", "l", "m", "n", "o", "p", "r", "s",
                   "t", "u", "f", "kh", "ts", "ch", "sh", "shch", "", "y", "", "e", "yu", "ya", "a", "g", "q", "ng",
                   "o", "u", "u", "h", "i"], strict=True))


def latin(name: str) -> str:
    """A Cyrillic name in Latin letters for an English reply (Алия → Aliya, Айгерим → Aygerim)."""
    out = []
    for ch in name[:100]:
        low = ch.lower()
        if low in _LATIN:
            t = _LATIN[low]
            out.append(t.capitalize() if ch != low else t)
        else:
            out.append(ch)
    return "".join(out)


def _without_repeats(parts: list[str], used: set[str]) -> list[str]:
    """The parts minus every sentence already sent (or already in this reply)."""
    out = []
    for p in parts:
        kept = []
        for s in _SENT_SPLIT_RE.split(p):
            k = _sentence_key(s)
            if k and k not in used:
                used.add(k)
                kept.append(s)
        if kept:
            out.append(" ".join(kept))
    return out


def _gendered(text: str, persona: PersonaSpec) -> str:
    """The persona's grammatical gender: «записала», «поняла», «рада» for 'f'."""
    if persona.gender != "f":
        return text
    return _MASCULINE_RE.sub(lambda m: _FEMININE.get(m.group(0), m.group(0) + "а"), text)


def _now(state: DialogState) -> datetime | None:
    try:
        now = datetime.fromisoformat(state.now_iso) if state.now_iso else None
    except ValueError:
        return None
    if now is not None and now.tzinfo is None:
        try:
            now = now.replace(tzinfo=ZoneInfo(state.timezone or "UTC"))
        except (ZoneInfoNotFoundError, ValueError):
            now = now.replace(tzinfo=ZoneInfo("UTC"))
    return now


def _slot_words(slot: FreeSlot, now: datetime | None, lang: str) -> str:
    """«завтра в 11:00», «в пятницу, 4.12, в 15:00» / 'tomorrow at 11:00', 'on Friday 4.12 at 15:00'."""
    try:
        start = datetime.fromisoformat(slot.start)
    except ValueError:
        return slot.start
    hm = f"{start.hour:02d}:{start.minute:02d}"
    days = (start.date() - now.date()).days if now else 99
    if days == 0:
        day = "сегодня" if lang == "ru" else "today"
    elif days == 1:
        day = "завтра" if lang == "ru" else "tomorrow"
    else:
        day = f"{_WEEKDAY_WORDS[lang][start.weekday()]}, {start.day}.{start.month:02d},"
    return f"{day} в {hm}" if lang == "ru" else f"{day} at {hm}"


_PRICE_READY_SHORT = {
    "ru": ["Точную стоимость по вашим данным посчитает менеджер.", "Расчёт по вашим параметрам сделает менеджер."],
    "en": ["A manager will calculate the exact price for your details.", "A manager will work out the exact quote."],
}
_SLOTS_OFFER = {
    "ru": ["Есть свободное время: {s}. Что вам удобнее?", "Могу предложить {s}. Какой вариант подходит?"],
    "en": ["I have free time {s}. Which suits you?", "I can offer {s}. Which works for you?"],
}
_BOOKED = {
    "ru": ["Готово{n}: встреча {t}. Менеджер будет на связи.", "Записал{n} вас: {t}. До встречи!"],
    "en": ["Done{n}: the meeting is {t}. A manager will be in touch.", "Booked{n}: {t}. Talk to you then!"],
}
_THINK_CLOSE = {
    "ru": [
        "Конечно{n}, подумайте спокойно. Если появятся вопросы — просто напишите, я на связи.",
        "Хорошо{n}, решение важное — не торопитесь. Я здесь, если что-то понадобится.",
    ],
    "en": [
        "Of course{n}, take your time. If any questions come up, just write — I'm here.",
        "Sure{n}, it's an important decision — no rush. I'm here if you need anything.",
    ],
}
_PACE_OK = {
    "ru": ["Хорошо{n}, без звонков — продолжим в переписке.", "Конечно{n}, можем всё обсудить здесь, в чате."],
    "en": ["Sure{n}, no calls — let's continue here in writing.", "Of course{n}, we can sort it all out here."],
}
_UNKNOWN_ANSWER = {
    "ru": ["Хороший вопрос — уточню у менеджера и вернусь с ответом.", "Это уточню у менеджера и напишу вам."],
    "en": [
        "Good question — I'll check with a manager and get back to you.",
        "Let me check that with a manager and come back to you.",
    ],
}
_KK_NOTICE = "Я отвечу на русском — так смогу помочь точнее, а вы пишите, как вам удобно."
_CONTENT_SENT = {"ru": "Отправляю: {t}.", "en": "Sending you: {t}."}
_SUMMARY_NO_CALL = {
    "ru": ["Итак, {s}. Передал менеджеру для точного расчёта — ответ пришлём сюда, в переписку."],
    "en": ["So: {s}. I've passed it to a manager for an exact quote — we'll reply here in the chat."],
}
_CLOSERS = {
    "ru": [
        "Хорошо{n}, я на связи.",
        "Если что-то ещё — пишите.",
        "Договорились{n}.",
        "Спасибо{n}!",
        "Буду рад помочь, если появятся вопросы.",
        "Я рядом, если понадоблюсь.",
    ],
    "en": [
        "Sure{n}, I'm here.",
        "Anything else — just write.",
        "Deal{n}.",
        "Thank you{n}!",
        "Happy to help if anything comes up.",
        "I'm around if you need me.",
    ],
}


def _first_fresh(options: list[str], turn: int, used: set[str], **fmt: str) -> str:
    """The first phrasing (starting at `turn`) none of whose sentences was sent yet; '' when all were."""
    for i in range(len(options)):
        text = options[(turn + i) % len(options)].format(**fmt)
        if all(_sentence_key(s) not in used for s in _SENT_SPLIT_RE.split(text) if _sentence_key(s)):
            return text
    return ""


def _answers(
    state: DialogState, text: str, ex: Extraction, data: dict[str, Any], city: str | None, lang: str
) -> tuple[list[str], bool]:
    """Answers to what the client asked, from the tenant's knowledge; (texts, whether prices were quoted)."""
    kb = state.knowledge
    if not len(kb):
        return [], False
    msg = MessageWords.of(text)
    question = "?" in text or is_question(text)
    out: list[str] = []
    # An English client gets an entry only in its English variant: a Russian sentence in an English reply is
    # not an answer (without one, the question goes to the manager like any other).
    if kb.delivery and asks_delivery(msg):
        rule = delivery_rule(kb, city)
        if rule:
            out.append(rule.text_en if lang == "en" else rule.text)
    if question:
        qa = best_qa(kb, msg)
        if qa:
            out.append(qa.answer_en if lang == "en" else qa.answer)
        term = best_term(kb, msg)
        if term:
            out.append(term.text_en if lang == "en" else term.text)
    quoted = False
    if kb.prices and ("price_question" in ex.intents or question):
        items = matching_prices(kb, msg)
        if not items and "price_question" in ex.intents:
            items = [next((p for p in kb.prices if per_area(p)), kb.prices[0])]
        dims = data.get("dimensions") if isinstance(data.get("dimensions"), dict) else {}
        area = float(dims.get("length") or 0) * float(dims.get("width") or 0)
        for item in items:
            line = price_text(item, lang)
            if per_area(item) and area:
                line += f" ({estimate_text(item, area, lang)})"
            out.append(line + ".")
            quoted = True
        if quoted:
            out.append(
                "Точную сумму менеджер посчитает по вашим параметрам."
                if lang == "ru"
                else "A manager will calculate the exact amount for your details."
            )
    return [o.strip() for o in out if o and o.strip()], quoted


_BUSINESS_WORDS = (
    "строит",
    "стро",
    "дом",
    "окн",
    "окон",
    "двер",
    "фундамент",
    "проект",
    "материал",
    "панел",
    "гарант",
    "срок",
    "достав",
    "оплат",
    "рассроч",
    "монтаж",
    "утепл",
    "кровл",
    "крыш",
    "стен",
    "договор",
    "скидк",
    "сборк",
    "бригад",
    "этаж",
    "площад",
    "сэндвич",
    "sip",
    "каркас",
    "смет",
    "кредит",
    "ипотек",
    "build",
    "house",
    "home",
    "window",
    "door",
    "warrant",
    "guarantee",
    "material",
    "panel",
    "install",
    "payment",
    "discount",
    "contract",
    "deliver",
    "roof",
    "wall",
    "floor",
    "foundation",
    "mortgage",
    "loan",
    "team",
    "crew",
    "офис",
    "office",
    "работ",
    "work",
)


def _on_business(text: str, state: DialogState) -> bool:
    """A question about the business (worth the manager's answer), not small talk about the weather."""
    msg = MessageWords.of(text)
    if any(w.startswith(_BUSINESS_WORDS) for w in msg.words):
        return True
    return any(msg.has(str(f.get("label") or "")) for f in state.fields)


def plan_turn(state: DialogState, client_text: str, *, deadline: float | None = None) -> TurnPlan:
    """Decide one AI turn: which tools to call and what to reply. Pure and deterministic.

    `deadline` (time.monotonic()) is the turn's time budget, checked between stages: past it, BrainTimeout."""

    check_deadline(deadline)
    said_lang = guess_language(client_text) or state.language or "ru"
    lang = said_lang if said_lang in ("ru", "en") else "ru"  # Kazakh: answered in Russian, said once
    carry = {a for a in state.awaiting if a.startswith(MARK)}
    asked_before = [a for a in state.awaiting if not a.startswith(MARK)]
    ex = extract(client_text, state.fields, awaiting=asked_before, deadline=deadline)
    ex.language = lang
    fields_by_key = {f["key"]: f for f in state.fields if f.get("key")}
    used = _sent_keys(state.sent_texts)

    # The lead's original request (e.g. from amoCRM) is read once, on the first turn.
    found = dict(ex.data)
    found_name, found_city = ex.name, ex.city
    if state.turn == 0 and state.source_info:
        src = extract(state.source_info, state.fields, deadline=deadline)
        for k, v in src.data.items():
            found.setdefault(k, v)
        found_city = found_city or src.city

    # What is new compared with the lead card.
    new_data: dict[str, Any] = {}
    for k, v in found.items():
        old = state.data.get(k)
        if isinstance(v, dict) and isinstance(old, dict):
            v = {**old, **v}  # partial dimensions refine, not replace
        if old != v:
            new_data[k] = v
    name_new = found_name if found_name and found_name != state.name else None
    city_new = found_city if found_city and found_city != state.city else None
    data = {**state.data, **new_data}
    name = name_new or state.name
    city = city_new or state.city

    calls: list[ToolCall] = []
    if new_data or name_new or city_new:
        args: dict[str, Any] = {"data": new_data}
        if name_new:
            args["name"] = name_new
        if city_new:
            args["city"] = city_new
        calls.append(ToolCall("update_lead", args))

    turn = state.turn
    n_comma = f", {name}" if name else ""
    parts: list[str] = []
    awaiting: list[str] = []
    check_deadline(deadline)
    fact_texts, facts_new = _select_facts(state, client_text, data, name, city, lang)
    check_deadline(deadline)
    intents = ex.intents
    low = client_text.lower()

    # The client's pace: «не сейчас / давайте письменно» stops call offers until they ask for a call themselves.
    # «давайте без звонка» names the call too: the pace wins unless the client names a time for the call.
    pace_now = wants_text_only(client_text) and not ("call_request" in intents and ex.preferred_time)
    if pace_now:
        intents.discard("call_request")
    if "call_request" in intents:
        carry.discard(NO_CALL)
    declined = "call" in asked_before and bool(_NO_RE.search(low)) and not (_YES_RE.search(low) or ex.preferred_time)
    if pace_now or declined:
        carry.add(NO_CALL)
    no_call = NO_CALL in carry

    def plan(replies: list[str]) -> TurnPlan:
        # Gendered before the repeat check: the sentences sent before were sent in the persona's gender.
        fresh = _without_repeats([_gendered(p, state.persona) for p in replies if p], used)
        if not fresh:
            closer = _first_fresh(_CLOSERS.get(lang, _CLOSERS["ru"]), turn, used, n=n_comma)
            fresh = [_gendered(closer, state.persona)] if closer else []
        text = " ".join(fresh).strip()
        return TurnPlan(calls, [text], awaiting + sorted(carry), lang, ex, facts_new)

    # 1. Refusal and 2. human request end the AI's part of the dialog.
    if "refusal" in intents:
        calls.append(ToolCall("mark_not_interested", {"reason": ex.quotes.get("refusal") or client_text.strip()}))
        facts_new = []
        return plan([_pick(_REFUSAL, lang, turn).format(n=n_comma)])
    if "human_request" in intents or state.stage_kind == "won":
        reason = ex.quotes.get("human_request") or client_text.strip()
        calls.append(ToolCall("handoff_to_human", {"reason": reason}))
        facts_new = []
        return plan([_pick(_HANDOFF, lang, turn).format(n=n_comma)])

    if "greeting" in intents:
        greet = _pick(_GREET, lang, turn).format(n=n_comma if name and not name_new else "")
        if turn == 0 and state.company:
            greet += f" Это {state.company}." if lang == "ru" else f" This is {state.company}."
        if turn == 0 and state.persona.name:
            persona = state.persona.name
            greet += f" Меня зовут {persona}." if lang == "ru" else f" My name is {latin(persona)}."
        parts.append(greet)
    if said_lang == "kk" and KK_SAID not in carry:
        parts.append(_KK_NOTICE)
        carry.add(KK_SAID)
    nice_at = -1
    if name_new and not ("greeting" in intents and name):
        parts.append(_pick(_NICE, lang, turn).format(n=name_new))
        nice_at = len(parts) - 1

    # Answer first: the client's question, from the tenant's knowledge, the content library, or honestly.
    check_deadline(deadline)
    answers, prices_quoted = _answers(state, client_text, ex, data, city, lang)
    answers += fact_texts
    content_words = asks_content(client_text)
    if content_words and state.content:
        sent_ids = {int(a[2:]) for a in carry if a.startswith("~c") and a[2:].isdigit()}
        item = best_content(state.content, content_words, CONTENT_KINDS, lang, exclude=sent_ids)
        if item is not None:
            calls.append(ToolCall("send_content", {"content_id": item.id}))
            answers.append(_CONTENT_SENT[lang].format(t=item.title))
            carry.add(f"~c{item.id}")
    asked_unknown = (
        not answers
        and "price_question" not in intents
        and "call_request" not in intents
        and ("?" in client_text or (is_question(client_text) and not ex.data))
        and not (ex.data or ex.name or ex.city)
        and not (ex.preferred_time and asked_before)
        and _on_business(client_text, state)
    )
    if asked_unknown or (content_words and not any(c.name == "send_content" for c in calls)):
        question = " ".join(client_text.split())[:300]
        calls.append(ToolCall("note_question", {"question": question}))
        answers.append(_pick(_UNKNOWN_ANSWER, lang, turn))
    parts += answers

    # Acknowledge what the client gave in their own terms.
    ack_items = []
    for k, v in new_data.items():
        f = fields_by_key.get(k)
        if f is None or (
            k == "city" and f.get("type") == "text" and city_new is None and "city" in new_data and state.city == v
        ):
            continue
        ack_items.append((f, v))
    if city_new and "city" not in fields_by_key:
        ack_items.append(({"key": "city"}, city_new))
    if len(ack_items) == 1 and ack_items[0][0].get("type") == "dimensions":
        parts.append(_pick(_ACK_DIMS, lang, turn).format(d=_dims_text(ack_items[0][1], lang)))
    elif ack_items:
        parts.append(_pick(_ACK, lang, turn).format(x=", ".join(_describe(f, v, lang) for f, v in ack_items)))

    missing = _missing_required(state.fields, data, city)
    dims_known = {k for k in missing if isinstance(data.get(k), dict) and data[k].get("length")}  # height to ask
    ack_at = len(parts) - 1 if ack_items else -1  # dropped when the phase-2 summary repeats it anyway
    time = ex.preferred_time if ex.preferred_time else state.preferred_time

    # «Спасибо, подумаю»: a short, warm close — no question, no push (intent «thinking» cools the score).
    if "thinking" in intents and "call_request" not in intents and "price_question" not in intents:
        parts.append(_pick(_THINK_CLOSE, lang, turn).format(n=n_comma))
        return plan(parts)

    # Meetings with a connected calendar: offer free slots in words, book the one the client names.
    accepted = "call" in asked_before and bool(_YES_RE.search(low) or ex.preferred_time)
    now = _now(state)
    wants_meeting = "call_request" in intents or bool(_MEETING_RE.search(low[:2000])) or accepted
    if state.free_slots and now is not None and (wants_meeting or SLOTS_OFFERED in carry):
        when = parse_when(client_text, now)
        chosen: FreeSlot | None = None
        om = _ORDINAL_RE.search(low[:2000]) if SLOTS_OFFERED in carry else None
        if om and _ORDINAL[om.group(1)] < len(state.free_slots[:3]):
            chosen = state.free_slots[:3][_ORDINAL[om.group(1)]]
        elif when is not None:
            fits = slots_matching(state.free_slots, when.day, when.hour_from, when.hour_to)
            chosen = fits[0] if fits and (when.exact or len(fits) == 1 or SLOTS_OFFERED in carry) else None
        if chosen is not None:
            calls.append(ToolCall("book_meeting", {"start": chosen.start, "duration_minutes": chosen.minutes}))
            carry.discard(SLOTS_OFFERED)
            carry.discard(NO_CALL)
            parts.append(_pick(_BOOKED, lang, turn).format(n=n_comma, t=_slot_words(chosen, now, lang)))
            return plan(parts)
        if wants_meeting or when is not None:
            near = slots_matching(state.free_slots, when.day, 0, 24) if when is not None else []
            offer = (near or state.free_slots)[:3]
            words = [_slot_words(s, now, lang) for s in offer]
            joined = (
                words[0]
                if len(words) == 1
                else ", ".join(words[:-1]) + (" или " if lang == "ru" else " or ") + words[-1]
            )
            if "call_request" in intents:
                call_args = {"name": name} if name else {}
                if ex.preferred_time:
                    call_args["preferred_time"] = ex.preferred_time
                calls.append(ToolCall("request_call", call_args))
            parts.append(
                _first_fresh(_SLOTS_OFFER[lang], turn, used, s=joined) or _SLOTS_OFFER[lang][0].format(s=joined)
            )
            carry.add(SLOTS_OFFERED)
            return plan(parts)

    # 3. Calls: asked directly, accepted our offer, or completing the details of an earlier request.
    completing = (
        state.call_requested
        and bool(set(asked_before) & {"name", "preferred_time"})
        and bool(name_new or ex.preferred_time)
    )
    price_insist = (
        "price_question" in intents
        and state.price_asked_count >= 1
        and bool(missing)
        and not no_call
        and not prices_quoted
    )
    if "call_request" in intents or (accepted and not no_call) or completing or price_insist:
        call_args: dict[str, Any] = {}
        if name:
            call_args["name"] = name
        if time:
            call_args["preferred_time"] = time
        calls.append(ToolCall("request_call", call_args))
        if price_insist and "call_request" not in intents:
            parts.append(_pick(_PRICE_INSIST, lang, turn).format(t=f" {time}" if time else ""))
        need = [k for k, v in (("name", name), ("preferred_time", time)) if not v]
        if need:
            if not price_insist or "call_request" in intents:
                parts.append(_pick(_CALL_ASK, lang, turn))
            parts.append(_ask(need, fields_by_key, lang, turn, used))
            awaiting = need
        else:
            if not price_insist or "call_request" in intents:
                if nice_at >= 0:  # the confirmation already addresses the client by name
                    parts.pop(nice_at)
                parts.append(_pick(_CALL_CONFIRM, lang, turn).format(n=n_comma, t=time))
            if missing:  # one light question so the call is productive; never more
                parts.append(
                    _ask(missing[:1], fields_by_key, lang, turn + 1, used, height_only=missing[0] in dims_known)
                )
                awaiting = missing[:1]
        return plan(parts)

    if pace_now:
        parts.append(_first_fresh(_PACE_OK[lang], turn, used, n=n_comma))

    # 4. Price questions (prices from the knowledge base were already quoted above, when there are any).
    if "price_question" in intents:
        if missing:
            asked = missing[:1]
            if not prices_quoted:
                params = [
                    (_PRICE_PARAM.get(k) or {}).get(lang) or _label(fields_by_key[k], lang).lower() for k in missing[:2]
                ]
                joiner = " и " if lang == "ru" else " and "
                parts.append(_pick(_PRICE_DEPENDS, lang, turn).format(p=joiner.join(params)))
            parts.append(_ask(asked, fields_by_key, lang, turn, used, height_only=asked[0] in dims_known))
            awaiting = list(asked)
            if not no_call and not prices_quoted and state.price_asked_count == 0:
                parts.append(_pick(_PRICE_OFFER_CALL, lang, turn))
                awaiting.append("call")
            return plan(parts)
        if not prices_quoted and SUMMARY_SENT in carry:  # the summary was given once already
            parts.append(_first_fresh(_PRICE_READY_SHORT[lang], turn, used))
        elif not prices_quoted:
            parts.append(_pick(_PRICE_READY, lang, turn).format(s=_summary(state.fields, data, city, lang)))
            carry.add(SUMMARY_SENT)
        if state.call_requested:
            parts.append(_pick(_ALREADY_CALL, lang, turn).format(t=f" {time}" if time else ""))
            return plan(parts)
        if not no_call:
            need = [k for k, v in (("name", name), ("preferred_time", time)) if not v] or ["preferred_time"]
            parts.append(_ask(need, fields_by_key, lang, turn, used))
            awaiting = need + ["call"]
        return plan(parts)

    if declined:
        parts.append(_pick(_CALL_DECLINED, lang, turn))

    # 5. Off-topic: a gentle, polite return to the script.
    if ex.off_topic and missing and not answers and not declined and not pace_now and "greeting" not in intents:
        parts.append(_pick(_OFF_TOPIC, lang, turn))

    # 6. Qualification (phase 1): one question, the most useful missing detail, phrased anew each time.
    if missing:
        for key in missing:
            q = _ask([key], fields_by_key, lang, turn, used, height_only=key in dims_known)
            if q:
                parts.append(q)
                awaiting = [key]
                break
        return plan(parts)

    # Phase 2: the summary once, with one next step; afterwards the optional details, never the same push again.
    optional = _missing_optional(state.fields, data, city)
    if SUMMARY_SENT not in carry and not state.call_requested:
        if ack_at >= 0:
            parts.pop(ack_at)
        carry.add(SUMMARY_SENT)
        summary = _summary(state.fields, data, city, lang)
        if no_call:
            parts.append(_pick(_SUMMARY_NO_CALL, lang, turn).format(s=summary))
            return plan(parts)
        parts.append(_pick(_PUSH, lang, turn).format(s=summary))
        need = [k for k, v in (("name", name), ("preferred_time", time)) if not v] or ["preferred_time"]
        parts.append(_ask(need, fields_by_key, lang, turn, used))
        awaiting = need + ["call"]
        return plan(parts)
    if state.call_requested and time and "call_request" not in intents and not ack_items:
        parts.append(_first_fresh(_ALREADY_CALL[lang], turn, used, t=f" {time}"))
    for key in [k for k in optional if f"~o:{k}" not in carry]:  # each optional detail is asked once
        q = _ask([key], fields_by_key, lang, turn, used)
        if q:
            parts.append(q)
            awaiting = [key]
            carry.add(f"~o:{key}")
            break
    else:
        parts.append(_first_fresh(_WRAP[lang], turn, used))
    return plan(parts)


def _summary(fields: list[dict[str, Any]], data: dict[str, Any], city: str | None, lang: str) -> str:
    items = []
    for f in fields:
        v = data.get(f["key"])
        if f["key"] == "city" and not v:
            v = city
        if v not in (None, "", {}, []):
            items.append(_describe(f, v, lang))
    if city and "city" not in {f["key"] for f in fields}:
        items.append(_describe({"key": "city"}, city, lang))
    return ", ".join(items)


def first_contact_text(
    *, name: str | None, source_info: str, company: str, offer: str, language: str = "ru", persona_name: str = ""
) -> str:
    """The greeting sent the moment a lead arrives (e.g. from amoCRM), before the client writes anything."""
    lang = language if language in ("ru", "en") else "ru"
    src = " ".join((source_info or "").split())
    if len(src) > 120:
        src = src[:117].rstrip() + "…"
    parts: list[str] = []
    if lang == "ru":
        parts.append(f"Здравствуйте, {name}!" if name else "Здравствуйте!")
        if company:
            parts.append(f"Это {company}." if not persona_name else f"Это {company}, меня зовут {persona_name}.")
        elif persona_name:
            parts.append(f"Меня зовут {persona_name}.")
        if src:
            parts.append(f"Вы оставляли заявку: «{src}».")
        if offer:
            parts.append(offer.strip())
        parts.append("Подскажите, вопрос ещё актуален? Могу сразу сориентировать по стоимости.")
    else:
        parts.append(f"Hello, {name}!" if name else "Hello!")
        if company:
            parts.append(f"This is {latin(persona_name)} from {company}." if persona_name else f"This is {company}.")
        elif persona_name:
            parts.append(f"My name is {latin(persona_name)}.")
        if src:
            parts.append(f"You left a request: “{src}”.")
        if offer:
            parts.append(offer.strip())
        parts.append("Is it still relevant? I can give you a price estimate right away.")
    return " ".join(parts)
