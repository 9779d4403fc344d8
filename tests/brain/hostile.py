"""Hostile text for the brain, shared by tests/brain/test_hostile.py, tests/aiagent/test_hostile.py and
bench/nlu_hostile.py.

FAMILIES are the shapes that make a backtracking pattern rescan its input: long runs of one character class
(digits, letters, '@', '.', spaces, newlines), mixed scripts, and the prefixes the brain's own patterns look
for followed by what makes them fail late (a needs trigger and then only newlines, e-mail-like runs, …).
`regex_inventory` lists every compiled pattern a module keeps at module level (also inside dicts, lists and
tuples), so a new pattern is checked without anyone remembering to add it.
"""
from __future__ import annotations

import re
from types import ModuleType

# (prefix, repeated unit, suffix): the text is prefix + unit repeated up to the size + suffix.
FAMILIES: dict[str, tuple[str, str, str]] = {
    "digits": ("", "1", ""),
    "latin letters": ("", "a", ""),
    "cyrillic letters": ("", "я", ""),
    "@": ("", "@", ""),
    ".": ("", ".", ""),
    "spaces": ("", " ", ""),
    "newlines": ("", "\n", ""),
    "mixed scripts": ("", "aя1@. -Ж\n", ""),
    "e-mail-ish": ("", "a.b-c+d", ""),
    "a@ repeated": ("", "a@", ""),
    "operator, human, repeated": ("", "operator, human, ", ""),
    "needs trigger + newlines": ("задача", "\n", ""),
    "needs + a run of spaces": ("нужно a", " ", "b"),
    "dimensions 10x12": ("", "10x12 ", ""),
    "labelled length": ("", "длина 11, ", ""),
    "phone-ish +7": ("", "+7 ", ""),
    "time phrases": ("", "завтра в 5 ", ""),
    "cities": ("", "в Алматы, ", ""),
    "capitalised words": ("", "Иван ", ""),
}


def hostile_text(family: str, size: int) -> str:
    prefix, unit, suffix = FAMILIES[family]
    return prefix + unit * max(1, (size - len(prefix) - len(suffix)) // len(unit)) + suffix


def regex_inventory(*modules: ModuleType) -> dict[str, re.Pattern[str]]:
    """{"module.NAME[key]": pattern} for every compiled pattern kept at module level."""
    found: dict[str, re.Pattern[str]] = {}

    def walk(name: str, obj: object) -> None:
        if isinstance(obj, re.Pattern):
            found[name] = obj
        elif isinstance(obj, dict):
            for key, value in obj.items():
                walk(f"{name}[{key}]", value)
        elif isinstance(obj, (list, tuple)):
            for i, value in enumerate(obj):
                walk(f"{name}[{i}]", value)

    for module in modules:
        short = module.__name__.rsplit(".", 1)[-1]
        for attr, value in vars(module).items():
            if not attr.startswith("__") and not isinstance(value, ModuleType):
                walk(f"{short}.{attr}", value)
    return found


def pattern_families(pattern: re.Pattern[str]) -> list[tuple[str, str]]:
    """(prefix, unit) shapes aimed at one pattern: single characters and pairs, then each word the pattern
    spells followed by what makes it fail late (spaces, newlines, letters, digits), or repeated."""
    out = [("", ch) for ch in " \n.,@-+:1aяAЯ_'’x/*?!"]
    out += [("", unit) for unit in ("a@", "a.", "1 ", "a ", "я ", "1.", "1:", "+7", "Яя ", "aя1@. ", "a\n", " \n")]
    for word in sorted(set(re.findall(r"[a-zа-яё']+", pattern.pattern)))[:40]:
        out += [(word, tail) for tail in (" ", "\n", "a", "1", " a", ": ")]
        out += [("", word + tail) for tail in (" ", "a", "\n")]
        out.append(("", word.title() + " "))
    return out
