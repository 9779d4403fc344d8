"""The knowledge base on the AI turn's path (issue 14), with a 200-entry base (50 of each kind).

    .venv/bin/python -m buildcrm.devstack --tmp -- .venv/bin/python bench/knowledge.py [--runs 300]

1. knowledge_for_brain: the whole base read from the database (after a write) vs the cached read every other turn
   makes (one Redis GET + a dict lookup); p50/p95.
2. relevant_entries (the LLM prompt's entries) on typical client messages; p50/p95.
3. plan_turn (the offline brain) on the same messages with the 200-entry base vs an empty base in the same run:
   p95 and the ratio. Target (issue 14): one offline turn p95 < 150 ms with a 200-entry base.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import bench_tenant, django_setup, setup_platform  # noqa: E402

MESSAGES = [
    "Здравствуйте! Какие окна вы ставите и сколько стоит м2 дома под ключ?",
    "Строим в Алматы, дом 10 на 12, высота 3 метра. Доставка на участок есть?",
    "А гарантия какая? И как проходит оплата, есть рассрочка?",
    "How long does it take to build a house? Do you deliver to Astana?",
    "Окон у нас 10 штук, дверей две, фундамент закрывать будем",
    "спасибо, подумаю",
]


def pct(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(round(q * (len(values) - 1))))]


def fmt(values: list[float]) -> str:
    return f"p50 {statistics.median(values) * 1000:.2f} ms, p95 {pct(values, 0.95) * 1000:.2f} ms"


def seed(count_per_kind: int = 50) -> None:
    from decimal import Decimal

    from buildcrm.demo_knowledge import DEMO_DELIVERY, DEMO_PRICES, DEMO_QA, DEMO_TERMS
    from knowledge.services import knowledge_replace

    def many(items: list[dict], key: str, n: int) -> list[dict]:
        out = []
        for i in range(n):
            item = dict(items[i % len(items)])
            item[key] = f"{item[key]} №{i}" if key != "city" else (f"Город {i}" if i else "")
            out.append(item)
        return out

    prices = many(DEMO_PRICES, "item", count_per_kind)
    for i, p in enumerate(prices):
        p["price_from"] = Decimal(1000 + i)
        p["price_to"] = Decimal(2000 + i)
    knowledge_replace(
        actor="bench",
        qa=many(DEMO_QA, "question", count_per_kind),
        prices=prices,
        delivery=many(DEMO_DELIVERY, "city", count_per_kind),
        terms=many(DEMO_TERMS, "title", count_per_kind),
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=300)
    args = parser.parse_args()
    django_setup()
    setup_platform()
    from django_tenants.utils import tenant_context

    from brain.knowledge import EMPTY
    from brain.offline import DialogState, plan_turn
    from knowledge import selectors
    from tenants.presets import get_preset

    tenant = bench_tenant("kbbench")
    fields = get_preset("construction")
    with tenant_context(tenant):
        seed()
        base = selectors.knowledge_for_brain()
        print(
            f"knowledge base: {len(base)} entries ({len(base.qas)} Q&A, {len(base.prices)} prices, "
            f"{len(base.delivery)} delivery, {len(base.terms)} terms)"
        )

        loads, cached = [], []
        for _ in range(max(10, args.runs // 10)):
            selectors.knowledge_invalidate()
            started = time.perf_counter()
            selectors.knowledge_for_brain()
            loads.append(time.perf_counter() - started)
        for _ in range(args.runs):
            started = time.perf_counter()
            selectors.knowledge_for_brain()
            cached.append(time.perf_counter() - started)
        print(f"1. knowledge_for_brain from the database: {fmt(loads)}")
        print(
            f"   knowledge_for_brain cached (every other turn): {fmt(cached)}  "
            f"(ratio {statistics.median(loads) / statistics.median(cached):.0f}x)"
        )

        relevant = []
        for i in range(args.runs):
            started = time.perf_counter()
            selectors.relevant_entries(MESSAGES[i % len(MESSAGES)], knowledge=base)
            relevant.append(time.perf_counter() - started)
        print(f"2. relevant_entries over {len(base)} entries: {fmt(relevant)}")

    with_base, without = [], []
    for i in range(args.runs):
        text = MESSAGES[i % len(MESSAGES)]
        for knowledge, out in ((base, with_base), (EMPTY, without)):
            state = DialogState(fields=fields, knowledge=knowledge, turn=i % 5)
            started = time.perf_counter()
            plan_turn(state, text)
            out.append(time.perf_counter() - started)
    ratio = pct(with_base, 0.95) / max(pct(without, 0.95), 1e-9)
    print(
        f"3. plan_turn with the {len(base)}-entry base: {fmt(with_base)}; empty base: {fmt(without)}; "
        f"p95 ratio {ratio:.2f} (target p95 < 150 ms)"
    )


if __name__ == "__main__":
    main()
