"""One offline AI turn (brain.offline.plan_turn) with a 200-entry knowledge base, against an empty one.

    .venv/bin/python bench/offline_turn.py [--rounds 30]

No database: the planner is pure. The knowledge base is generated (100 Q&A, 50 price lines, 20 delivery rules,
30 terms — 200 entries — plus 30 content items and 10 free calendar slots); a mix of client messages (questions the
KB answers, prices, delivery, content, meetings, plain data) is planned turn after turn in a dialog whose earlier
replies fill `sent_texts`. Prints p50/p95/max per turn for both and the ratio p95(200) / p95(empty), measured in
the same run. Target (issue 14): p95 < 150 ms.
"""

from __future__ import annotations

import argparse
import sys
import time
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from brain.knowledge import (  # noqa: E402
    EMPTY,
    QA,
    ContentOffer,
    DeliveryRule,
    FreeSlot,
    Knowledge,
    PersonaSpec,
    PriceItem,
    Term,
)
from brain.offline import DialogState, plan_turn  # noqa: E402
from tenants.presets import get_preset  # noqa: E402

TOPICS = [
    "окна",
    "двери",
    "кровля",
    "фундамент",
    "утепление",
    "панели",
    "сваи",
    "монтаж",
    "гарантия",
    "отделка",
    "крыша",
    "веранда",
    "терраса",
    "баня",
    "гараж",
    "электрика",
    "сантехника",
    "отопление",
    "вентиляция",
    "фасад",
]
CITIES = [
    "Алматы",
    "Астана",
    "Шымкент",
    "Караганда",
    "Актобе",
    "Тараз",
    "Павлодар",
    "Семей",
    "Костанай",
    "Атырау",
    "Кокшетау",
    "Петропавловск",
    "Туркестан",
    "Актау",
    "Талдыкорган",
    "Уральск",
    "Экибастуз",
    "Темиртау",
    "Жезказган",
    "",
]
MESSAGES = [
    "Здравствуйте! Какие окна вы ставите?",
    "Сколько стоит квадратный метр?",
    "Караганда, доставка есть?",
    "дом 10 на 12, высота этажа 3 метра",
    "Окон у нас 10 штук, дверей 2",
    "Какая гарантия на кровлю?",
    "Покажите фото ваших домов",
    "а утепление какое?",
    "подождите со звонком, давайте письменно",
    "без фундамента, проект есть",
    "Сколько по времени монтаж?",
    "давайте встречу в пятницу после обеда",
    "what about payment terms?",
    "спасибо, подумаю",
]


def knowledge_200() -> Knowledge:
    qas = tuple(
        QA(
            f"Вопрос про {TOPICS[i % 20]} №{i}",
            f"Ответ про {TOPICS[i % 20]}: вариант {i}.",
            (TOPICS[i % 20], f"{TOPICS[i % 20]}{i}", f"тема{i}"),
            answer_en=f"Answer {i}.",
            id=i,
        )
        for i in range(100)
    )
    prices = tuple(
        PriceItem(
            f"Позиция {TOPICS[i % 20]} {i}",
            "м²" if i % 3 == 0 else "шт",
            Decimal(10000 + i * 500),
            Decimal(12000 + i * 500),
            keywords=(TOPICS[i % 20], f"поз{i}"),
            id=i,
        )
        for i in range(50)
    )
    delivery = tuple(
        DeliveryRule(CITIES[i], f"Доставка в {CITIES[i] or 'другие города'}: {i + 1} дн.", id=i) for i in range(20)
    )
    terms = tuple(
        Term(f"Условие {i}", f"Текст условия {i}.", (f"условие{i}", "оплата" if i == 0 else f"усл{i}"), id=i)
        for i in range(30)
    )
    kb = Knowledge(qas=qas, prices=prices, delivery=delivery, terms=terms)
    assert len(kb) == 200
    return kb


CONTENT = [
    ContentOffer(
        i + 1,
        f"Материал {TOPICS[i % 20]} {i}",
        ["album", "file", "video"][i % 3],
        (TOPICS[i % 20], "фото" if i % 3 == 0 else "каталог"),
        "ru",
    )
    for i in range(30)
]
SLOTS = [FreeSlot(f"2026-12-0{1 + i // 3}T{10 + (i % 3) * 2}:00:00+05:00") for i in range(10)]


def run(kb: Knowledge, rounds: int) -> list[float]:
    times: list[float] = []
    for _ in range(rounds):
        st = DialogState(
            fields=get_preset("construction"),
            knowledge=kb,
            content=CONTENT if len(kb) else [],
            free_slots=SLOTS if len(kb) else [],
            persona=PersonaSpec("Айгерим", "f"),
            now_iso="2026-11-30T10:00:00+05:00",
            timezone="Asia/Almaty",
            company="ПанельСтрой",
        )
        for msg in MESSAGES:
            t0 = time.perf_counter()
            plan = plan_turn(st, msg)
            times.append(time.perf_counter() - t0)
            for c in plan.tool_calls:
                if c.name == "update_lead":
                    st.data.update(c.arguments["data"])
                    st.city = c.arguments.get("city", st.city)
            st.awaiting, st.language, st.turn = plan.awaiting, plan.language, st.turn + 1
            st.sent_texts += plan.replies
    return times


def pct(samples: list[float], p: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))] * 1000


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=30)
    args = ap.parse_args()
    kb = knowledge_200()
    run(kb, 2)  # warm-up: regex compilation, the city gazetteer
    base = run(EMPTY, args.rounds)
    full = run(kb, args.rounds)
    print(f"offline turn, {len(MESSAGES)} messages x {args.rounds} dialogs each")
    for label, t in (("empty KB", base), ("200-entry KB", full)):
        print(f"  {label:<14} p50 {pct(t, 50):7.2f} ms   p95 {pct(t, 95):7.2f} ms   max {pct(t, 100):7.2f} ms")
    p95 = pct(full, 95)
    print(f"  ratio p95(200)/p95(empty) = {p95 / pct(base, 95):.2f}")
    print(f"  target p95 < 150 ms: {'OK' if p95 < 150 else 'MISSED'}")


if __name__ == "__main__":
    main()
