"""A tenant's knowledge, content library and calendar as the AI turn hands them to the brain (issue 14 tests)."""

from __future__ import annotations

from decimal import Decimal

from brain.knowledge import QA, ContentOffer, DeliveryRule, FreeSlot, Knowledge, PersonaSpec, PriceItem, Term

KB = Knowledge(
    qas=(
        QA(
            "Какие окна вы ставите?",
            "Ставим металлопластиковые окна с двухкамерным стеклопакетом.",
            ("окна", "окно", "стеклопакет", "windows", "window"),
            answer_en="We fit uPVC windows with double glazing.",
            id=1,
        ),
        QA(
            "Сколько строится дом?",
            "Дом до 150 м² собираем за 3–4 недели после фундамента.",
            ("срок", "сроки", "долго", "сколько строите", "build time", "how long"),
            answer_en="A house up to 150 m² takes 3–4 weeks after the foundation.",
            id=2,
        ),
    ),
    prices=(
        PriceItem(
            "Дом из SIP-панелей под ключ",
            "м²",
            Decimal("180000"),
            Decimal("220000"),
            keywords=("м2", "квадрат", "квадратный", "sqm", "square"),
            id=1,
        ),
        PriceItem("Свайно-винтовой фундамент", "шт", Decimal("25000"), keywords=("сваи", "свая", "piles"), id=2),
    ),
    delivery=(
        DeliveryRule(
            "Алматы",
            "В Алматы — самовывоз с нашего склада или доставка за день.",
            "In Almaty you can pick up at our warehouse or get it delivered in a day.",
            id=1,
        ),
        DeliveryRule(
            "",
            "В другие города доставляем по всему Казахстану за 3–7 дней.",
            "We deliver anywhere in Kazakhstan in 3–7 days.",
            id=2,
        ),
    ),
    terms=(
        Term(
            "Оплата",
            "Оплата: 50% предоплата, остаток после сборки; есть рассрочка.",
            ("оплата", "оплатить", "рассрочка", "предоплата", "payment", "installments"),
            "Payment: 50% upfront, the rest after assembly; installments available.",
            id=1,
        ),
        Term(
            "Гарантия",
            "Гарантия на конструкцию — 10 лет.",
            ("гарантия", "гарантии", "warranty"),
            "A 10-year warranty on the structure.",
            id=2,
        ),
    ),
)

CONTENT = [
    ContentOffer(11, "Фото готовых домов", "album", ("фото", "дома", "примеры", "работы"), "ru"),
    ContentOffer(12, "Каталог проектов 2026", "file", ("каталог", "проекты"), "ru"),
    ContentOffer(13, "Photos of finished houses", "album", ("photos", "examples", "houses"), "en"),
    ContentOffer(14, "Прайс-лист", "file", ("прайс", "цены"), "ru"),
]

NOW = "2026-11-30T10:00:00+05:00"  # a Monday, Almaty
SLOTS = [
    FreeSlot("2026-12-01T11:00:00+05:00"),
    FreeSlot("2026-12-01T15:00:00+05:00"),
    FreeSlot("2026-12-04T14:00:00+05:00", 45),
]
AIGERIM = PersonaSpec(name="Айгерим", gender="f")
ARMAN = PersonaSpec(name="Арман", gender="m")
