"""Texts the AI sends that are not a dialog turn: tenant templates filled in for one lead, and follow-up touches
written offline (a template, lightly varied and personalised). Pure: plain inputs, none of our packages."""

from __future__ import annotations

from dataclasses import dataclass

GREET_WORDS = ("здравствуй", "добрый", "привет", "доброе", "hello", "hi", "good ")
FOLLOWUP_OPENERS = {"ru": ["", "{name}, ", "Добрый день{name_comma}! "], "en": ["", "{name}, ", "Hi{name_comma}! "]}
SOURCE_CHARS = 120


@dataclass(frozen=True)
class TemplateValues:
    """What a tenant's template may name: {name}, {name_comma}, {company}, {source_info}, {city}."""

    name: str = ""
    company: str = ""
    source_info: str = ""
    city: str = ""
    language: str = "ru"


def greets(text: str) -> bool:
    return text.strip().lower().startswith(GREET_WORDS)


def template_render(template: str, values: TemplateValues, *, with_source: bool = True) -> str:
    """The template with the lead's values; with `with_source`, the lead's own request (their words in an outside
    CRM) is quoted too — before a closing question, so the client reads greeting, request, then our question."""
    name = values.name

    class Safe(dict):
        def __missing__(self, key: str) -> str:
            return "{" + key + "}"

    try:
        text = template.format_map(
            Safe(
                name=name,
                name_comma=f", {name}" if name else "",
                company=values.company,
                source_info=values.source_info,
                city=values.city,
            )
        )
    except (ValueError, IndexError):
        text = template
    if with_source and values.source_info and "{source_info}" not in template:
        src = " ".join(values.source_info.split())
        src = src if len(src) <= SOURCE_CHARS else src[: SOURCE_CHARS - 3].rstrip() + "…"
        line = f"Вы оставляли заявку: «{src}»." if values.language != "en" else f"You left a request: “{src}”."
        body = text.rstrip()
        if body.endswith("?"):
            cut = max(body.rfind(c, 0, len(body) - 1) for c in ".!?")
            text = f"{body[: cut + 1]} {line} {body[cut + 1 :].strip()}" if cut != -1 else f"{line} {body}"
        else:
            text = f"{body} {line}"
    return " ".join(text.split())


def followup_offline(template: str, values: TemplateValues, *, variant: int) -> str:
    """A follow-up touch without a model: the template, personalised, with an opener picked by `variant` (the
    lead and how many touches went before, so consecutive touches read differently)."""
    text = template_render(template, values, with_source=False)
    openers = FOLLOWUP_OPENERS["en" if values.language == "en" else "ru"]
    opener = openers[variant % len(openers)]
    name = values.name
    if "{name" in opener and not name:
        opener = ""
    if not text or "{name" in template or (name and name in text):
        return text
    if opener and greets(text) and opener.startswith(("Добрый", "Hi")):
        opener = ""
    opener = opener.format(name=name, name_comma=f", {name}" if name else "")
    if opener.endswith(", ") and text:
        text = text[0].lower() + text[1:] if not text[:2].isupper() else text
    return (opener + text).strip()
