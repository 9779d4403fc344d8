"""What the tenant taught the AI, as plain data the brain reads (issue 14).

The tenant's knowledge base lives in the database (the `knowledge` app); `knowledge.selectors` turns it into a
`Knowledge` and the AI turn hands it to the brain in `DialogState.knowledge`. Pure: no Django, no I/O.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal


@dataclass(frozen=True)
class QA:
    """A question the client may ask, its answer, and the words that recognise it."""

    question: str
    answer: str
    keywords: tuple[str, ...] = ()
    answer_en: str = ""  # optional English variant; without one an English client gets `answer`
    id: int | None = None


@dataclass(frozen=True)
class PriceItem:
    """One line of the price list: '<item>, <price_from>–<price_to> <currency> per <unit>'."""

    item: str
    unit: str  # "м²", "шт", "м³" …
    price_from: Decimal | None
    price_to: Decimal | None = None
    currency: str = "KZT"
    keywords: tuple[str, ...] = ()
    note: str = ""
    id: int | None = None


@dataclass(frozen=True)
class DeliveryRule:
    """What happens for a client's city; city '' is the rule for every other city."""

    city: str
    text: str
    text_en: str = ""
    id: int | None = None


@dataclass(frozen=True)
class Term:
    """A term or condition (payment, warranty, timelines …) quoted when its keywords come up."""

    title: str
    text: str
    keywords: tuple[str, ...] = ()
    text_en: str = ""
    id: int | None = None


@dataclass(frozen=True)
class Knowledge:
    qas: tuple[QA, ...] = ()
    prices: tuple[PriceItem, ...] = ()
    delivery: tuple[DeliveryRule, ...] = ()
    terms: tuple[Term, ...] = ()

    def __len__(self) -> int:
        return len(self.qas) + len(self.prices) + len(self.delivery) + len(self.terms)


@dataclass(frozen=True)
class ContentOffer:
    """An item of the tenant's content library the brain may send (`send_content` tool)."""

    id: int
    title: str
    type: str  # text | image | album | video | file | link …
    tags: tuple[str, ...] = ()
    language: str = ""


@dataclass(frozen=True)
class FreeSlot:
    """A free meeting slot in the tenant's calendar, ISO start in the tenant's time zone."""

    start: str
    minutes: int = 60


EMPTY = Knowledge()


@dataclass
class PersonaSpec:
    """The AI's one persona: the name it signs with and its grammatical gender ('f' | 'm')."""

    name: str = ""
    gender: str = "f"
    extra: dict = field(default_factory=dict)


# ---------------------------------------------------------------------------------------------------------
# Matching (issue 14): which entries answer a client's message. Linear in the text and the knowledge base: the
# message's words are read once into a set of prefixes; each entry's keywords are looked up in it.

_MAX_WORDS = 400  # a message's first words are read; a novel-length message does not slow the turn
_PREFIX_MIN, _PREFIX_MAX = 4, 8


def _words(text: str) -> list[str]:
    out, word = [], []
    for ch in text[:4000].lower().replace("ё", "е"):
        if ch.isalnum() or ch in "²³":
            word.append(ch)
        elif word:
            out.append("".join(word))
            word = []
            if len(out) >= _MAX_WORDS:
                break
    if word:
        out.append("".join(word))
    return out


@dataclass(frozen=True)
class MessageWords:
    """A message read once: its words, and every word's prefixes of 4–8 letters (a Russian stem match)."""

    words: frozenset[str]
    prefixes: frozenset[str]
    text: str
    short3: frozenset[str] = frozenset()  # first 3 letters of the short words: «баня» ~ «баню», «бане»

    @classmethod
    def of(cls, text: str) -> MessageWords:
        ws = _words(text)
        prefixes = {w[:n] for w in ws for n in range(_PREFIX_MIN, min(len(w), _PREFIX_MAX) + 1)}
        short3 = {w[:3] for w in ws if 3 <= len(w) <= 6 and not w.isascii()}
        return cls(frozenset(ws), frozenset(prefixes), " ".join(ws), frozenset(short3))

    def has(self, keyword: str) -> bool:
        """A keyword is heard: a phrase as words in a row, a short word exactly, a longer one by its stem."""
        kw = " ".join(_words(keyword))
        if not kw:
            return False
        if " " in kw:  # a phrase: every word of it heard («сколько строите» ~ «сколько строится дом»)
            return f" {kw} " in f" {self.text} " or all(self.has(w) for w in kw.split()[:6])
        if len(kw) == _PREFIX_MIN and not kw.isascii() and kw[:3] in self.short3:
            return True  # a 4-letter Russian word by its 3-letter stem
        if len(kw) < _PREFIX_MIN + 1:
            return kw in self.words
        stem = kw[: max(_PREFIX_MIN, min(_PREFIX_MAX, len(kw) - 2))]  # «доставка» ~ «доставку», «доставкой»
        return stem in self.prefixes


def _hits(msg: MessageWords, keywords: tuple[str, ...]) -> int:
    return sum(1 for k in keywords if msg.has(k))


_DELIVERY_WORDS = (
    "доставк",
    "доставля",
    "достав",
    "привез",
    "привоз",
    "склад",
    "самовывоз",
    "забрать",
    "delivery",
    "deliver",
    "ship",
    "shipping",
    "warehouse",
    "pickup",
    "pick up",
)


def asks_delivery(msg: MessageWords) -> bool:
    return any(msg.has(w) for w in _DELIVERY_WORDS)


def delivery_rule(knowledge: Knowledge, city: str | None) -> DeliveryRule | None:
    """The rule for the client's city; the '' rule (every other city) when theirs has none."""
    norm = (city or "").strip().lower().replace("ё", "е")
    fallback = None
    for rule in knowledge.delivery:
        rc = rule.city.strip().lower().replace("ё", "е")
        if rc and norm and rc == norm:
            return rule
        if not rc and fallback is None:
            fallback = rule
    return fallback


def best_qa(knowledge: Knowledge, msg: MessageWords) -> QA | None:
    best, best_hits = None, 0
    for qa in knowledge.qas:
        hits = _hits(msg, qa.keywords)
        if hits > best_hits:
            best, best_hits = qa, hits
    return best


def best_term(knowledge: Knowledge, msg: MessageWords) -> Term | None:
    best, best_hits = None, 0
    for term in knowledge.terms:
        hits = _hits(msg, term.keywords) or (1 if msg.has(term.title) else 0)
        if hits > best_hits:
            best, best_hits = term, hits
    return best


def matching_prices(knowledge: Knowledge, msg: MessageWords, *, limit: int = 2) -> list[PriceItem]:
    """Price lines the message names (by keywords or the item's own words), best first."""
    scored = []
    for i, item in enumerate(knowledge.prices):
        hits = _hits(msg, item.keywords) + sum(1 for w in _words(item.item) if len(w) >= 5 and msg.has(w))
        if hits:
            scored.append((-hits, i, item))
    scored.sort(key=lambda t: (t[0], t[1]))
    return [item for _, _, item in scored[:limit]]


def _money(value: Decimal, lang: str = "ru", *, unit: bool = True) -> str:
    """18 000 / 21,6 млн (ru); 18,000 / 21.6m (en)."""
    n = float(value)
    if n >= 1_000_000:
        s = f"{n / 1_000_000:.1f}".rstrip("0").rstrip(".")
        s = s if lang == "en" else s.replace(".", ",")
        return s + (("m" if lang == "en" else " млн") if unit else "")
    sep = "," if lang == "en" else " "
    return f"{int(n):,}".replace(",", sep) if n.is_integer() else f"{n:,.2f}".replace(",", sep)


_CURRENCY = {"KZT": "₸", "RUB": "₽", "USD": "$", "EUR": "€"}


def price_text(item: PriceItem, lang: str) -> str:
    """«Стеновая SIP-панель — от 18 000 до 22 000 ₸ за м²» / '… from 18 000 to 22 000 KZT per м²'."""
    cur = _CURRENCY.get(item.currency.upper(), item.currency) if lang == "ru" else item.currency
    if item.price_from is None:
        return item.item
    if lang == "en":
        amount = f"from {_money(item.price_from, 'en')}" + (
            f" to {_money(item.price_to, 'en')}" if item.price_to else ""
        )
        return f"{item.item}: {amount} {cur} per {item.unit}"
    amount = f"от {_money(item.price_from)}" + (f" до {_money(item.price_to)}" if item.price_to else "")
    return f"{item.item} — {amount} {cur} за {item.unit}"


def per_area(item: PriceItem) -> bool:
    return item.unit.strip().lower().replace(" ", "") in ("м²", "м2", "кв.м", "квм", "m²", "m2", "sqm", "кв.м.")


def estimate_text(item: PriceItem, area: float, lang: str) -> str:
    """A rough total for an area priced per m²: «около 2.2–2.6 млн ₸ за 120 м²»."""
    if item.price_from is None or area <= 0:
        return ""
    lo = item.price_from * Decimal(str(area))
    hi = (item.price_to or item.price_from) * Decimal(str(area))
    cur = _CURRENCY.get(item.currency.upper(), item.currency) if lang == "ru" else item.currency
    both_millions = lo >= 1_000_000
    rng = _money(lo, lang) if lo == hi else f"{_money(lo, lang, unit=not both_millions)}–{_money(hi, lang)}"
    a = f"{area:g}"
    if lang == "en":
        return f"for {a} m² that is roughly {rng} {cur}"
    return f"для {a} м² это ориентировочно {rng} {cur}"


# --- content and calendar -------------------------------------------------------------------------------------


def best_content(
    content: list[ContentOffer],
    request_words: list[str],
    kinds: dict[str, tuple[str, ...]],
    lang: str,
    exclude: set[int] = frozenset(),
) -> ContentOffer | None:  # type: ignore[assignment]
    """The library item that fits the request best: tags/title words, the type asked for, the client's language."""
    msg = MessageWords.of(" ".join(request_words))
    wanted_types = {t for t, stems in kinds.items() if any(w.startswith(stems) for w in request_words)}
    best, best_score = None, 0.0
    for item in content:
        if item.id in exclude:
            continue
        score = 0.0
        score += 3 * _hits(msg, item.tags) + 2 * sum(1 for w in _words(item.title) if len(w) >= 4 and msg.has(w))
        itype = {"album": "image", "link": "file"}.get(item.type, item.type)
        if itype in wanted_types:
            score += 2
        if score <= 0:  # nothing of what was asked for (a price list is no answer to «фото»): not this item
            continue
        if item.language and item.language == lang:
            score += 0.5
        elif item.language and item.language != lang:
            score -= 0.5
        if score > best_score:
            best, best_score = item, score
    return best


def slots_matching(slots: list[FreeSlot], day, hour_from: int, hour_to: int) -> list[FreeSlot]:
    """Free slots on `day` (None = any day) starting within [hour_from, hour_to)."""
    out = []
    for s in slots:
        try:
            start = datetime.fromisoformat(s.start)
        except ValueError:
            continue
        if (day is None or start.date() == day) and hour_from <= start.hour < hour_to:
            out.append(s)
    return out
