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


# Follow-ups the brain writes itself for an English-speaking client when the step has no English text (issue 14):
# a Russian template is never sent to a client who writes in English.
FOLLOWUPS_EN = [
    "Hi{name_comma}! Just checking in — is the house still on your mind? Happy to answer any questions.",
    "Hello{name_comma}! Have you had a chance to think it over? I can prepare a quote whenever you're ready.",
    "Hi{name_comma}, this is {company_or_us}. Is there anything I can help you with?",
    "Hello{name_comma}! Would you like to continue? A short reply is enough and I'll take it from there.",
]


def _mostly_cyrillic(text: str) -> bool:
    cyr = sum(1 for ch in text[:2000] if "а" <= ch.lower() <= "я" or ch in "ёЁ")
    lat = sum(1 for ch in text[:2000] if "a" <= ch.lower() <= "z")
    return cyr > lat


def followup_template_for(template: str, template_en: str, values: TemplateValues, *, variant: int) -> str:
    """The template in the client's language: the step's English variant for an English client, else — when the
    template is Russian — a follow-up the brain writes in English; Russian (and Kazakh) clients get `template`."""
    if values.language != "en":
        return template
    if template_en.strip():
        return template_en
    if not _mostly_cyrillic(template):
        return template
    return FOLLOWUPS_EN[variant % len(FOLLOWUPS_EN)].replace("{company_or_us}", values.company or "us")


def followup_offline(template: str, values: TemplateValues, *, variant: int, template_en: str = "") -> str:
    """A follow-up touch without a model: the template (in the client's language, see followup_template_for),
    personalised, with an opener picked by `variant` (the lead and how many touches went before, so consecutive
    touches read differently)."""
    template = followup_template_for(template, template_en, values, variant=variant)
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


# A client's voice note we could not listen to (no speech-to-text, or it failed): asked once per lead.
VOICE_TEXT_REQUEST = {
    "ru": "Извините, не получилось прослушать голосовое сообщение. Напишите, пожалуйста, текстом — отвечу сразу.",
    "en": "Sorry, I couldn't listen to your voice message. Could you please write it as text? I'll answer right away.",
}


def voice_text_request(language: str) -> str:
    return VOICE_TEXT_REQUEST.get(language, VOICE_TEXT_REQUEST["ru"])
