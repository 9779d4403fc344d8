"""Unit tests of the rule-based NLU (no Django, no network)."""

from __future__ import annotations

import pytest

from brain.nlu import INTENTS, detect_language, extract, find_city
from tenants.presets import PRESETS, get_preset

C = get_preset("construction")
B = get_preset("generic_b2b")


def data(text: str, fields: list[dict], awaiting: list[str] | None = None) -> dict:
    return extract(text, fields, awaiting=awaiting).data


def test_presets_shape() -> None:
    assert set(PRESETS) == {"generic_b2b", "construction"}
    for fields in PRESETS.values():
        for f in fields:
            assert {"key", "label", "label_en", "type", "required", "hint"} <= set(f)
            assert f["type"] in {"text", "number", "boolean", "choice", "dimensions"}
    urgency = next(f for f in PRESETS["generic_b2b"] if f["key"] == "urgency")
    assert urgency["choices"] == ["now", "month", "quarter", "later"]


@pytest.mark.parametrize(
    "text,expected",
    [
        ("окон штук шесть", {"windows": 6}),
        ("две двери", {"doors": 2}),
        ("одна дверь и четыре окна", {"doors": 1, "windows": 4}),
        ("окон 5 дверей 2", {"windows": 5, "doors": 2}),
        ("5 окон 2 двери", {"windows": 5, "doors": 2}),
        ("десять окон", {"windows": 10}),
        ("окна — 8 штук", {"windows": 8}),
        ("four windows and one door", {"windows": 4, "doors": 1}),
    ],
)
def test_number_words_and_counts(text: str, expected: dict) -> None:
    assert data(text, C) == expected


@pytest.mark.parametrize(
    "text,dims",
    [
        ("дом 10 на 12, высота 3", {"length": 10, "width": 12, "height": 3}),
        ("10x8x2.7 м", {"length": 10, "width": 8, "height": 2.7}),
        ("10 х 10", {"length": 10, "width": 10}),
        ("12*15", {"length": 12, "width": 15}),
        ("длина 11 ширина 7 высота 3", {"length": 11, "width": 7, "height": 3}),
        ("высота потолков 2,7", {"height": 2.7}),
        ("размеры 9х12, потолок 3м", {"length": 9, "width": 12, "height": 3}),
        ("The house is 10x14 m, 3 m high", {"length": 10, "width": 14, "height": 3}),
        ("house 8 by 12", {"length": 8, "width": 12}),
        ("дом 6 на 9 метров, 2 этажа", {"length": 6, "width": 9}),
    ],
)
def test_dimensions(text: str, dims: dict) -> None:
    assert data(text, C)["dimensions"] == dims


def test_bare_dimensions_when_asked() -> None:
    assert data("10 12", C, ["dimensions"])["dimensions"] == {"length": 10, "width": 12}
    assert "dimensions" not in data("дверей 3, окон 10", C, ["dimensions"])


@pytest.mark.parametrize(
    "text,budget",
    [
        ("бюджет около 2 млн", 2_000_000),
        ("Бюджет 1,5 млн", 1_500_000),
        ("500 тысяч", 500_000),
        ("Budget is about $10k", 10_000),
        ("бюджет до 300 тыс тенге", 300_000),
        ("800 000 тенге", 800_000),
        ("полтора миллиона", 1_500_000),
        ("budget is 5000 dollars", 5000),
    ],
)
def test_budgets(text: str, budget: float) -> None:
    assert data(text, B)["budget"] == budget


@pytest.mark.parametrize(
    "text,size",
    [
        ("человек 40 в компании", 40),
        ("нас 7 человек", 7),
        ("в команде 12 сотрудников", 12),
        ("team of 25 people", 25),
        ("У нас сеть из 3 салонов, человек 40", 40),
        ("мы из Москвы, нас 30", 30),
        ("сотрудников около 200", 200),
        ("команда из двадцати пяти менеджеров", 25),
    ],
)
def test_company_size(text: str, size: int) -> None:
    assert data(text, B)["company_size"] == size


def test_weak_keyword_does_not_steal_other_nouns() -> None:
    assert "company_size" not in data("у нас 3 салона", B)


@pytest.mark.parametrize(
    "text,key,value",
    [
        ("фундамент закрывать будем", "foundation_closed", True),
        ("фундамент закрывать не будем", "foundation_closed", False),
        ("Фундамент уже залит, закрывать его не будем", "foundation_closed", False),
        ("проект есть", "has_project", True),
        ("проекта пока нет", "has_project", False),
        ("проект будет позже", "has_project", False),
        ("We don't have a project", "has_project", False),
    ],
)
def test_boolean_negations(text: str, key: str, value: bool) -> None:
    assert data(text, C)[key] is value


@pytest.mark.parametrize(
    "text,value",
    [
        ("CRM пока нет, ведём всё в excel", False),
        ("У нас уже есть amoCRM", True),
        ("CRM есть — Битрикс", True),
        ("ведём в excel", False),
        ("we don't have a CRM", False),
        ("We use Pipedrive", True),
        ("Битрикс не подошёл, сейчас без CRM", False),
    ],
)
def test_has_crm(text: str, value: bool) -> None:
    assert data(text, B)["has_crm"] is value


def test_wanting_a_crm_is_not_having_one() -> None:
    assert "has_crm" not in data("нам нужна CRM", B)


@pytest.mark.parametrize(
    "text,urgency",
    [
        ("нужно срочно", "now"),
        ("горим", "now"),
        ("в следующем месяце", "month"),
        ("this quarter", "quarter"),
        ("не срочно, просто смотрим", "later"),
        ("Not urgent, maybe next year", "later"),
        ("ASAP", "now"),
    ],
)
def test_urgency(text: str, urgency: str) -> None:
    assert data(text, B)["urgency"] == urgency


def test_needs_free_text() -> None:
    d = data("Нужно автоматизировать заявки из инстаграма, срочно, горим", B)
    assert d["needs"] == "автоматизировать заявки из инстаграма"
    assert d["urgency"] == "now"
    assert "needs" not in data("We need it this quarter", B)
    assert "needs" not in data("хочу поговорить с менеджером", B)


def test_bare_answers_use_awaiting() -> None:
    assert data("5", C, ["windows"]) == {"windows": 5}
    assert data("да", C, ["has_project"]) == {"has_project": True}
    assert data("нет", C, ["foundation_closed"]) == {"foundation_closed": False}
    assert data("5", C) == {}


@pytest.mark.parametrize(
    "text,city",
    [
        ("в Алмате", "Алматы"),
        ("Алматы", "Алматы"),
        ("Almaty", "Алматы"),
        ("Я из Караганды", "Караганда"),
        ("дом в Талдыкоргане", "Талдыкорган"),
        ("Astana", "Астана"),
        ("Усть-Каменогорск", "Усть-Каменогорск"),
        ("в Костанае", "Костанай"),
        ("из Санкт-Петербурга", "Санкт-Петербург"),
        ("в Нижнем Новгороде", "Нижний Новгород"),
        ("Ростове-на-Дону", "Ростов-на-Дону"),
        ("в Екатеринбурге", "Екатеринбург"),
        ("Шымкенте", "Шымкент"),
    ],
)
def test_cities(text: str, city: str) -> None:
    ex = extract(text, C)
    assert ex.city == city
    assert ex.data["city"] == city  # the construction preset has a city field too


def test_ambiguous_cities_need_a_marker() -> None:
    assert find_city("Это Владимир") is None
    assert find_city("живу во Владимире")[0] == "Владимир"
    assert extract("Семей", C, awaiting=["city"]).city == "Семей"
    assert extract("для наших семей", C).city is None


@pytest.mark.parametrize(
    "text,awaiting,name",
    [
        ("Меня зовут Айгуль", None, "Айгуль"),
        ("Я Сергей, Павлодар", None, "Сергей"),
        ("Hi, I'm Daniel from Astana", None, "Daniel"),
        ("это Марат", None, "Марат"),
        ("Ерлан, после 18:00", ["name", "preferred_time"], "Ерлан"),
        ("айгуль", ["name"], "Айгуль"),
        ("Меня Тимур зовут", None, "Тимур"),
        ("Hi, Sarah here", None, "Sarah"),
        ("Это Владимир", None, "Владимир"),
    ],
)
def test_names(text: str, awaiting: list[str] | None, name: str) -> None:
    assert extract(text, C, awaiting=awaiting).name == name


@pytest.mark.parametrize(
    "text,awaiting",
    [
        ("Я из Караганды", None),
        ("Это Алматы", None),
        ("Нас 7 человек", ["name"]),
        ("наберите меня", ["name"]),
        ("Не звоните", ["name"]),
        ("Я директор", None),
        ("I'm interested", None),
        ("Москва", ["name"]),
    ],
)
def test_not_names(text: str, awaiting: list[str] | None) -> None:
    assert extract(text, C, awaiting=awaiting).name is None


@pytest.mark.parametrize(
    "text,intent",
    [
        ("Здравствуйте!", "greeting"),
        ("Добрый день", "greeting"),
        ("hello", "greeting"),
        ("позвоните мне", "call_request"),
        ("наберите меня", "call_request"),
        ("можете набрать?", "call_request"),
        ("перезвоните после обеда", "call_request"),
        ("можно созвониться", "call_request"),
        ("Можете мне перезвонить?", "call_request"),
        ("call me", "call_request"),
        ("could you call me tomorrow", "call_request"),
        ("сколько стоит", "price_question"),
        ("цена?", "price_question"),
        ("какая цена за квадрат", "price_question"),
        ("how much", "price_question"),
        ("Сколько это будет стоить?", "price_question"),
        ("не актуально", "refusal"),
        ("не интересно", "refusal"),
        ("не пишите больше", "refusal"),
        ("no thanks", "refusal"),
        ("Нет, спасибо", "refusal"),
        ("живой менеджер", "human_request"),
        ("можно с человеком?", "human_request"),
        ("оператор", "human_request"),
        ("real person please", "human_request"),
        ("human", "human_request"),
    ],
)
def test_intents(text: str, intent: str) -> None:
    ex = extract(text, C)
    assert intent in ex.intents
    assert intent in ex.quotes
    assert ex.intents <= set(INTENTS)


@pytest.mark.parametrize("text", ["проекта нет", "не звоните", "дом 8 на 8", "мне уже звонили"])
def test_not_intents(text: str) -> None:
    ex = extract(text, C)
    assert "refusal" not in ex.intents and "call_request" not in ex.intents


def test_preferred_time_and_email() -> None:
    assert extract("после 18:00", C, awaiting=["preferred_time"]).preferred_time == "после 18:00"
    assert extract("перезвоните после обеда", C).preferred_time == "после обеда"
    assert extract("tomorrow morning", C, awaiting=["preferred_time"]).preferred_time == "tomorrow morning"
    assert extract("пишите на ivan.petrov@mail.ru", C).email == "ivan.petrov@mail.ru"
    # A clock time never becomes a count or a size.
    assert extract("окон 4, звоните после 18:00", C).data == {"windows": 4}


def test_language_and_off_topic() -> None:
    assert detect_language("Привет, CRM есть") == "ru"
    assert detect_language("Hi, we use amoCRM") == "en"
    assert detect_language("мой email ivan@mail.ru") == "ru"
    ex = extract("какая сегодня погода?", C)
    assert ex.off_topic and not ex.data and not ex.intents
    assert not extract("дом 8 на 8", C).off_topic


def test_quotes_are_the_clients_words() -> None:
    ex = extract("Окон будет 5, двери 2", C)
    assert ex.quotes["windows"] == "Окон будет 5"
    assert ex.quotes["doors"] == "двери 2"


def test_custom_tenant_fields() -> None:
    fields = [
        {"key": "area", "label": "Площадь участка", "type": "number", "required": True, "hint": "в сотках"},
        {"key": "delivery", "label": "Нужна доставка", "type": "boolean", "required": False, "hint": ""},
        {
            "key": "material",
            "label": "Материал",
            "type": "choice",
            "required": False,
            "hint": "",
            "choices": ["брус", "кирпич", "панели"],
        },
        {"key": "comment", "label": "Комментарий", "type": "text", "required": False, "hint": ""},
    ]
    assert data("площадь участка 10 соток", fields)["area"] == 10
    assert data("доставка не нужна", fields)["delivery"] is False
    assert data("хотим из кирпича", fields)["material"] == "кирпич"
    assert data("Хочу второй этаж мансардой", fields, ["comment"])["comment"] == "Хочу второй этаж мансардой"
    # Only keys that exist in the tenant's fields are extracted.
    assert set(data("дом 10 на 12, окон 5", fields)) <= {"area", "delivery", "material", "comment"}
