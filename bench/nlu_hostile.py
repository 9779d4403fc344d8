"""The offline brain on hostile text: every figure should grow linearly with the input.

    .venv/bin/python bench/nlu_hostile.py [--cap 120] [--quick] [--sections 123]

No database is needed: the brain (brain/: nlu, offline planner, prompts, engine, llm) is pure; aiagent's tools and
services load Django's settings only. Each measurement runs in a forked child killed after `--cap` seconds, so a
quadratic case prints "> cap" instead of hanging the bench. Text families: tests/brain/hostile.py.

1. Figures: guess_language and extract on 65 KB and 1 MiB of adversarial text (repeated digits, letters,
   '@', '.', spaces, mixed scripts, …), each family in its own row.
2. Growth: every public entry of the brain (guess_language, extract with and without `awaiting`, find_city,
   plan_turn) at 1 KB, 10 KB and 100 KB per family, and the ratio t(100 KB) / t(10 KB): linear ≈ 10,
   quadratic ≈ 100.
3. Patterns: every regular expression the brain and aiagent keep at module level (nlu, offline, prompts, engine,
   llm, tools, services; tests.brain.hostile.regex_inventory) run over families built from its own words and from
   single characters; its slowest family at 32 KB, then that family's growth t(64 KB)/t(8 KB): linear ≈ 8,
   quadratic ≈ 64. Figures are the fastest of a few runs; on a busy machine a ratio can still jump.
"""
from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import re
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from brain import engine, llm, nlu, offline, prompts  # noqa: E402
from brain.offline import DialogState, plan_turn  # noqa: E402
from tenants.presets import get_preset  # noqa: E402
from tests.brain import hostile  # noqa: E402

FIELDS = get_preset("construction") + get_preset("generic_b2b")
KEYS = [f["key"] for f in FIELDS] + ["name", "preferred_time", "call"]
FAMILIES = list(hostile.FAMILIES)
text_of = hostile.hostile_text


ENTRIES: dict[str, Callable[[str], object]] = {
    "guess_language": nlu.guess_language,
    "extract": lambda s: nlu.extract(s, FIELDS),
    "extract(awaiting=all)": lambda s: nlu.extract(s, FIELDS, awaiting=KEYS),
    "find_city": nlu.find_city,
    "plan_turn": lambda s: plan_turn(DialogState(fields=FIELDS), s),
}


def _child(conn, fn, arg) -> None:
    started = time.perf_counter()
    fn(arg)
    conn.send(time.perf_counter() - started)


def timed(fn: Callable[[str], object], text: str, cap: float) -> float | None:
    """Seconds fn(text) took in a forked child, or None when it ran past `cap` (killed)."""
    ctx = mp.get_context("fork")
    parent, child = ctx.Pipe(duplex=False)
    proc = ctx.Process(target=_child, args=(child, fn, text))
    proc.start()
    result = parent.recv() if parent.poll(cap) else None
    if result is None:
        proc.kill()
    proc.join()
    return result


def _best(runs) -> float | None:
    """The fastest of several runs (the least disturbed by other processes); None if one ran past the cap."""
    runs = list(runs)
    return None if None in runs else min(runs)


def fmt(seconds: float | None, cap: float) -> str:
    if seconds is None:
        return f"> {cap:.0f} s".rjust(9)
    return f"{seconds * 1000:7.1f}ms" if seconds < 10 else f"{seconds:7.1f} s"


def figures(cap: float, families: list[str]) -> None:
    print("1. guess_language / extract on adversarial text")
    print(f"   {'family':28} {'guess 65KB':>10} {'extract 65KB':>12} {'guess 1MiB':>10} {'extract 1MiB':>12}")
    for family in families:
        row = []
        for size in (65 * 1024, 1024 * 1024):
            text = text_of(family, size)
            row += [fmt(timed(ENTRIES[name], text, cap), cap) for name in ("guess_language", "extract")]
        print(f"   {family:28} {row[0]:>10} {row[1]:>12} {row[2]:>10} {row[3]:>12}", flush=True)


def growth(cap: float, families: list[str]) -> None:
    print("\n2. growth of every entry: t(1KB) t(10KB) t(100KB), ratio t(100KB)/t(10KB) (linear ≈ 10)")
    worst: tuple[float, str] = (0.0, "")
    for name, fn in ENTRIES.items():
        for family in families:
            times = [_best(timed(fn, text_of(family, size), cap) for _ in range(2)) for size in (1024, 10240, 102400)]
            ratio = (times[2] / max(times[1], 1e-4)) if None not in times else float("inf")
            if ratio > worst[0]:
                worst = (ratio, f"{name} on {family}")
            flag = "  SUPER-LINEAR" if ratio > 25 and (times[2] is None or times[2] > 0.05) else ""
            print(f"   {name:22} {family:28} " + " ".join(fmt(t, cap) for t in times) + f"  x{ratio:5.1f}{flag}",
                  flush=True)
    print(f"   worst ratio: x{worst[0]:.1f} ({worst[1]})")


def _scan(pattern: re.Pattern[str], text: str) -> None:
    for _ in pattern.finditer(text):
        pass


def patterns() -> None:
    print("\n3. every regex of aiagent (finditer): its slowest family at 32 KB, and t(64 KB)/t(8 KB) for it"
          " (linear ≈ 8, quadratic ≈ 64)")
    found = hostile.regex_inventory(nlu, offline, prompts, engine, llm, *_django_modules())
    bad = 0
    for name, pattern in found.items():
        slowest, family = 0.0, ("", "")
        for prefix, unit in hostile.pattern_families(pattern):
            took = _time(pattern, prefix + unit * (32768 // len(unit)))
            if took > slowest:
                slowest, family = took, (prefix, unit)
        prefix, unit = family
        ratio = 0.0
        if slowest > 0.005:  # measured again, less noisily, with its growth from 4 KB
            slowest = min(_time(pattern, prefix + unit * (65536 // len(unit))) for _ in range(3))
            small = min(_time(pattern, prefix + unit * (8192 // len(unit))) for _ in range(5))
            ratio = slowest / max(small, 1e-6)
        flag = "  SUPER-LINEAR" if ratio > 24 and slowest > 0.02 else ""
        bad += bool(flag)
        print(f"   {name:34} {slowest * 1000:8.2f}ms  x{ratio:5.1f}  {(prefix + unit)[:24]!r}{flag}", flush=True)
    print(f"   {len(found)} patterns, {bad} super-linear")


def _django_modules() -> list:
    """aiagent.tools and aiagent.services need Django's settings (no database): included when they load."""
    try:
        import django

        os.environ.setdefault("DJANGO_SETTINGS_MODULE", "buildcrm.settings")
        django.setup()
        from aiagent import services, tools
    except Exception as exc:  # no settings here: the bench still covers the pure brain
        print(f"   (tools, services skipped: {exc})")
        return []
    return [tools, services]


def _time(pattern: re.Pattern[str], text: str) -> float:
    started = time.perf_counter()
    _scan(pattern, text)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--cap", type=float, default=120.0, help="seconds before a measurement is killed")
    parser.add_argument("--quick", action="store_true", help="the brief's six families only")
    parser.add_argument("--sections", default="123", help="which sections to run, e.g. 1 or 23")
    args = parser.parse_args()
    families = FAMILIES[:8] if args.quick else FAMILIES
    if "1" in args.sections:
        figures(args.cap, families)
    if "2" in args.sections:
        growth(args.cap, families)
    if "3" in args.sections:
        patterns()


if __name__ == "__main__":
    main()
