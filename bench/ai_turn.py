"""AI turn latency and prompt size, with a real in-process Celery worker.

    .venv/bin/python -m buildcrm.devstack --tmp -- .venv/bin/python bench/ai_turn.py [--turns 60] [--long 200]

1. p50/p95 from a stored client message (its row's created_at) to the queued reply (the reply row's
   created_at), debounce set to 0 so no wait is included: the offline brain, and the `openai` brain
   against an instant local stand-in LLM (each turn = update_lead tool call → tool result → final text).
2. Prompt tokens (approx., chars / 4, system + window + tools) per turn of one long `openai` dialog at
   turns 5, 50 and 200.
Targets (issue 4): p95 < 300 ms; tokens(200) ≤ 1.5 × tokens(5).
"""
import argparse
import os
import statistics
import sys
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "buildcrm.settings")
os.environ.setdefault("LOG_LEVEL", "WARNING")

import django  # noqa: E402

django.setup()

from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402
from django_tenants.utils import tenant_context  # noqa: E402

from tenants.services import platform_setup, tenant_config_import, tenant_provision  # noqa: E402
from tests.aiagent.openai_standin import OpenAIStandin  # noqa: E402

CLIENT_LINES = [
    "Здравствуйте! Интересует дом",
    "Строим в Алматы",
    "Дом 10 на 12, высота 3 метра",
    "А сколько примерно будет стоить?",
    "Фундамент закрывать будем, окон штук 6, две двери",
    "Проект есть, могу прислать фото",
    "А сроки какие? Хотелось бы к осени заехать, мы сейчас снимаем квартиру и хотим побыстрее",
    "Понятно, спасибо. А гарантия есть?",
    "Ещё вопрос: а зимой вы строите?",
    "Хорошо, подумаем с женой и напишем",
]


def standin_reply(payload: dict) -> dict:
    """Instant LLM: a tool call when the client just spoke, a final text after the tool result."""
    if payload["messages"][-1]["role"] == "tool":
        return STANDIN.text("Понял вас! Подскажите, когда удобно созвониться с менеджером?")
    return STANDIN.tool_calls(("update_lead", {"data": {"windows": 6}}))


STANDIN = OpenAIStandin(default=standin_reply)


def wait_turn(message_id: int, timeout: float = 30.0):
    from aiagent.models import AiTurn

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        turn = AiTurn.objects.filter(message_id=message_id).exclude(status="superseded").first()
        if turn is not None:
            return turn
        time.sleep(0.003)
    raise SystemExit(f"no AI turn for message {message_id} within {timeout}s")


def say(phone: str, text: str):
    from conversations.models import Message
    from conversations.services import inbound_receive
    from integrations import sandbox

    item = sandbox.inbound(phone, "", text)
    stored = inbound_receive(provider="sandbox", items=[item], raw={"text": text}, event_id=item.provider_message_id)
    message = stored[0]
    turn = wait_turn(message.pk)
    replies = list(Message.objects.filter(pk__in=turn.reply_ids).order_by("id"))
    if turn.status != "ok" or not replies:
        raise SystemExit(f"turn for message {message.pk}: {turn.status} {turn.detail}")
    return (replies[0].created_at - message.created_at).total_seconds() * 1000, turn


INSIDE: dict[str, list[float]] = {}


def latency(tenant, brain: str, turns: int) -> list[float]:
    samples = []
    inside = INSIDE.setdefault(brain, [])
    with tenant_context(tenant):
        for i in range(turns):
            phone = f"7702{uuid.uuid4().int % 10**7:07d}"
            # Short dialogs of 3 turns each: greeting, data, question (different code paths).
            for line in CLIENT_LINES[i % 3 * 3: i % 3 * 3 + 3]:
                ms, turn = say(phone, line)
                samples.append(ms)
                inside.append(turn.latency_ms)
    return samples


def pct(values: list[float], p: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--turns", type=int, default=40, help="short dialogs per brain (3 turns each)")
    parser.add_argument("--long", type=int, default=200, help="turns of the long dialog")
    args = parser.parse_args()
    call_command("migrate_schemas", shared=True, interactive=False, verbosity=0)
    platform_setup()
    tag = uuid.uuid4().hex[:6]
    tenant = tenant_provision(slug=f"aibench{tag}", name="AI bench", owner_email="o@aibench.kz",
                              owner_password="Bench-pass-2026").tenant
    connection.set_schema_to_public()

    from celery.contrib.testing.worker import start_worker

    from buildcrm.celery import app

    STANDIN.__enter__()
    with start_worker(app, pool="threads", concurrency=4, perform_ping_check=False, loglevel="WARNING"):
        results = {}
        for brain in ("offline", "openai"):
            tenant_config_import(tenant, {"company": "ПанельСтрой", "followups": {"enabled": False}, "ai": {
                "provider": brain, "debounce_seconds": 0, "base_url": STANDIN.url, "api_key": "sk-bench",
                "model": "bench"}})
            tenant.refresh_from_db()
            connection.set_schema_to_public()
            latency(tenant, brain, 3)  # warm-up: imports, connections, caches
            samples = latency(tenant, brain, args.turns)
            results[brain] = samples
            inside = INSIDE[brain]
            print(f"{brain:8s} turns={len(samples):4d}  p50={pct(samples, 50):6.1f} ms  p95={pct(samples, 95):6.1f} ms"
                  f"  max={max(samples):6.1f} ms  in-turn p50/p95={pct(inside, 50):.0f}/{pct(inside, 95):.0f} ms"
                  f"  (target p95 < 300 ms: {'OK' if pct(samples, 95) < 300 else 'MISSED'})")

        tokens: dict[int, int] = {}
        with tenant_context(tenant):
            phone = f"7703{uuid.uuid4().int % 10**7:07d}"
            for n in range(1, args.long + 1):
                _, turn = say(phone, CLIENT_LINES[n % len(CLIENT_LINES)] + f" ({n})")
                if n in (5, 50, args.long):
                    tokens[n] = turn.prompt_tokens
        STANDIN.__exit__(None, None, None)
    t5, t50, tl = tokens[5], tokens[50], tokens[args.long]
    print(f"prompt tokens: turn 5 = {t5}, turn 50 = {t50} ({t50 / t5:.2f}×), turn {args.long} = {tl} "
          f"({tl / t5:.2f}×)  (target ≤ 1.5×: {'OK' if tl <= 1.5 * t5 else 'MISSED'})")
    print(f"p95 ratio to target: offline {pct(results['offline'], 95) / 300:.2f}, "
          f"openai {pct(results['openai'], 95) / 300:.2f} (≤ 1.00 meets 300 ms)")
    print(f"median offline/openai latency: {statistics.median(results['offline']):.1f} / "
          f"{statistics.median(results['openai']):.1f} ms")


if __name__ == "__main__":
    main()
