"""What the tenant taught the AI, as plain data the brain reads (issue 14).

The tenant's knowledge base lives in the database (the `knowledge` app); `knowledge.selectors` turns it into a
`Knowledge` and the AI turn hands it to the brain in `DialogState.knowledge`. Pure: no Django, no I/O.
"""
from __future__ import annotations

from dataclasses import dataclass, field
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
