"""Values people type into a lead (a form, a CSV cell), checked and normalised the one way the product stores them."""
from __future__ import annotations

import re

TAG_MAX_CHARS = 32
TAGS_PER_LEAD = 20
PHONE_MIN_DIGITS, PHONE_MAX_DIGITS = 7, 15  # E.164: at most 15 digits with the country code
_PHONE_TYPED = re.compile(r"\+?[0-9 ()\-.]{1,40}")


def phone_clean(value: str) -> str:
    """A typed phone number ("+7 (701) 111-22-33") as the E.164 digits the product stores ("77011112233").
    ValueError for letters, too few or too many digits."""
    text = (value or "").strip()
    if not _PHONE_TYPED.fullmatch(text):
        raise ValueError(phone_problem())
    digits_only = "".join(ch for ch in text if ch.isdigit())
    if not PHONE_MIN_DIGITS <= len(digits_only) <= PHONE_MAX_DIGITS:
        raise ValueError(phone_problem())
    return digits_only


def phone_problem() -> str:
    return (f"Телефон: от {PHONE_MIN_DIGITS} до {PHONE_MAX_DIGITS} цифр с кодом страны (E.164) / "
            f"Phone: {PHONE_MIN_DIGITS} to {PHONE_MAX_DIGITS} digits with the country code (E.164)")


def tags_clean(values: list[str]) -> list[str]:
    """Tags as stored: trimmed, inner spaces collapsed, lower-cased, a leading '#' dropped, each once, in order.
    ValueError for an over-long tag, control characters, commas, or more than TAGS_PER_LEAD; blanks are dropped."""
    cleaned: list[str] = []
    for value in values:
        tag = " ".join(str(value).split()).lstrip("#").strip().lower()
        if not tag:
            continue
        if len(tag) > TAG_MAX_CHARS:
            raise ValueError(f"Тег длиннее {TAG_MAX_CHARS} символов / A tag is longer than {TAG_MAX_CHARS} "
                             f"characters: {tag[:40]}…")
        if "," in tag or any(not ch.isprintable() for ch in tag):
            raise ValueError("Тег без запятых и управляющих символов / A tag has no commas or control characters")
        if tag not in cleaned:
            cleaned.append(tag)
    if len(cleaned) > TAGS_PER_LEAD:
        raise ValueError(f"Не больше {TAGS_PER_LEAD} тегов / At most {TAGS_PER_LEAD} tags")
    return cleaned
