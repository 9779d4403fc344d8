"""A client's stated budget as an amount of money: "2 млн", "500 тыс", "1,5 mln", "300000 тг", 2000000.

Pure and bounded: reads at most MAX_CHARS of a text, answers None for anything that is not one plain amount
(ranges give their upper bound: "от 1 до 2 млн" → 2 000 000, the most the client said they would spend)."""
from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation

MAX_CHARS = 200
# Larger amounts are typos or hostile input, not a deal (fits Lead.amount: 16 digits, 2 decimals).
MAX_AMOUNT = Decimal("99999999999999")

_MULTIPLIERS: dict[str, int] = {
    "k": 10**3, "к": 10**3, "тыс": 10**3, "тысяч": 10**3, "тысячи": 10**3, "тысяча": 10**3, "тыщ": 10**3,
    "thousand": 10**3,
    "m": 10**6, "mln": 10**6, "млн": 10**6, "миллион": 10**6, "миллиона": 10**6, "миллионов": 10**6,
    "million": 10**6, "millions": 10**6, "лям": 10**6, "ляма": 10**6, "лямов": 10**6,
    "млрд": 10**9, "миллиард": 10**9, "миллиарда": 10**9, "миллиардов": 10**9, "bn": 10**9, "billion": 10**9,
}
# A number: digits grouped by spaces / dots / commas / apostrophes, an optional decimal part; then a multiplier word.
_AMOUNT_RE = re.compile(
    r"(?<![\w.,])(\d{1,3}(?:[  '’]\d{3})+|\d{1,3}(?:[.,]\d{3}){2,}|\d+(?:[.,]\d+)?)\s*"
    r"(млрд|миллиард(?:а|ов)?|billion|bn|млн|миллион(?:а|ов)?|millions?|mln|лям(?:а|ов)?|"
    r"тыс(?:яч[аи]?)?|тыщ|thousand|k|к|m)?\.?(?![a-zа-яё])",
    re.IGNORECASE,
)


def _number(text: str) -> Decimal | None:
    """'1 500 000' / '1,500,000' / '1.5' / '1,5' as a Decimal."""
    grouped = re.sub(r"[  '’]", "", text)
    if re.fullmatch(r"\d{1,3}(?:[.,]\d{3}){2,}", grouped):
        grouped = re.sub(r"[.,]", "", grouped)
    try:
        return Decimal(grouped.replace(",", "."))
    except InvalidOperation:
        return None


def money_parse(value: object) -> Decimal | None:
    """The amount a budget value states, or None. Numbers are taken as they are; texts are read for their amounts
    with multipliers (млн, тыс, k, mln …) and currency words ignored; the largest amount named wins."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, (int, float, Decimal)):
        try:
            amount = Decimal(str(value))
        except InvalidOperation:
            return None
        return amount.quantize(Decimal("0.01")) if amount.is_finite() and 0 < amount <= MAX_AMOUNT else None
    if not isinstance(value, str):
        return None
    best: Decimal | None = None
    for match in _AMOUNT_RE.finditer(value[:MAX_CHARS]):
        word = (match.group(2) or "").lower()
        digits = match.group(1)
        if not word and re.fullmatch(r"\d{1,3}[.,]\d{3}", digits):  # "50,000" / "300.000": a thousands separator
            digits = re.sub(r"[.,]", "", digits)
        number = _number(digits)
        if number is None:
            continue
        amount = number * _MULTIPLIERS.get(word, 1) if word else number
        if 0 < amount <= MAX_AMOUNT and (best is None or amount > best):
            best = amount
    return best.quantize(Decimal("0.01")) if best is not None else None
