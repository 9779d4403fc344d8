"""Reads of the knowledge base: the whole base as the brain's `Knowledge` (cached per tenant, invalidated on every
write) and the few entries relevant to a client's text for the LLM's prompt."""

from __future__ import annotations

import logging
import re
import uuid
from decimal import Decimal

from django.core.cache import cache
from django.db import connection

from brain.knowledge import QA as BrainQA
from brain.knowledge import DeliveryRule as BrainDelivery
from brain.knowledge import Knowledge
from brain.knowledge import PriceItem as BrainPrice
from brain.knowledge import Term as BrainTerm
from knowledge.models import QA, DeliveryRule, PriceItem, Term

log = logging.getLogger("buildcrm.knowledge")

VERSION_KEY = "knowledge:version"  # per tenant (the cache's key function adds the schema)
TEXT_PREFIX_CHARS = 2000  # of the client's text the relevance match reads
_LOCAL: dict[tuple[str, str], Knowledge] = {}  # (schema, version) → the tenant's base, per process
_LOCAL_MAX = 200


def qa_list() -> list[QA]:
    return list(QA.objects.order_by("id"))


def price_list() -> list[PriceItem]:
    return list(PriceItem.objects.order_by("id"))


def delivery_list() -> list[DeliveryRule]:
    return list(DeliveryRule.objects.order_by("id"))


def term_list() -> list[Term]:
    return list(Term.objects.order_by("id"))


def knowledge_invalidate() -> None:
    """A new version of the current tenant's base: every process reads it afresh on its next turn."""
    try:
        cache.set(VERSION_KEY, uuid.uuid4().hex, timeout=None)
    except Exception:  # Redis down: the entry is stored; processes re-read when Redis is back
        log.warning("knowledge version not bumped (cache unavailable)")


def _load() -> Knowledge:
    return Knowledge(
        qas=tuple(
            BrainQA(
                question=q.question, answer=q.answer, answer_en=q.answer_en, keywords=tuple(q.keywords or ()), id=q.pk
            )
            for q in qa_list()
        ),
        prices=tuple(
            BrainPrice(
                item=p.item,
                unit=p.unit,
                price_from=p.price_from,
                price_to=p.price_to,
                currency=p.currency,
                keywords=tuple(p.keywords or ()),
                note=p.note,
                id=p.pk,
            )
            for p in price_list()
        ),
        delivery=tuple(BrainDelivery(city=d.city, text=d.text, text_en=d.text_en, id=d.pk) for d in delivery_list()),
        terms=tuple(
            BrainTerm(title=t.title, text=t.text, text_en=t.text_en, keywords=tuple(t.keywords or ()), id=t.pk)
            for t in term_list()
        ),
    )


def knowledge_for_brain() -> Knowledge:
    """The current tenant's whole knowledge base as plain data for the brain. Cached per process under the tenant's
    version stamp (one cache read per turn); read straight from the database inside a transaction, where a write
    that may still roll back must never be cached for others."""
    if connection.in_atomic_block:
        return _load()
    try:
        version = cache.get(VERSION_KEY)
        if version is None:
            version = uuid.uuid4().hex
            cache.add(VERSION_KEY, version, timeout=None)
            version = cache.get(VERSION_KEY) or version
    except Exception:
        log.warning("knowledge cache unavailable: read from the database")
        return _load()
    key = (connection.schema_name, str(version))
    hit = _LOCAL.get(key)
    if hit is None:
        if len(_LOCAL) >= _LOCAL_MAX:
            _LOCAL.clear()
        hit = _LOCAL[key] = _load()
    return hit


# ---------------------------------------------------------------------------------------------------------
# Relevance for the LLM's prompt

_WORD = re.compile(r"[^\W_]+", re.UNICODE)
_DELIVERY_WORDS = (
    "достав",
    "привез",
    "склад",
    "самовывоз",
    "забрат",
    "deliver",
    "shipping",
    "pickup",
    "warehouse",
    "жеткіз",
)
_STOP = {
    "какой",
    "какая",
    "какие",
    "сколько",
    "можно",
    "будет",
    "есть",
    "если",
    "чтобы",
    "what",
    "which",
    "does",
    "have",
    "with",
    "your",
    "this",
    "that",
    "how",
    "much",
}


def _stems(text: str) -> set[str]:
    """Words of 3+ letters cut to 5 (a rough stem that lets «окна», «окон», «окнами» meet), minus question words."""
    out = set()
    for word in _WORD.findall(text.lower()):
        if len(word) >= 3 and word not in _STOP:
            out.add(word[:5])
    return out


def _keyword_hit(keyword: str, text: str, stems: set[str]) -> bool:
    words = _stems(keyword)
    return bool(words) and (keyword in text or words <= stems)


def _money(value: Decimal | None) -> str:
    if value is None:
        return ""
    return f"{value:,.0f}".replace(",", " ") if value == value.to_integral() else f"{value:,.2f}".replace(",", " ")


def price_text(p: BrainPrice) -> str:
    """«Дом-комплект: 85 000–120 000 KZT за м² (note)» — one line of the price list."""
    if p.price_from is None:
        amount = "по запросу"
    elif p.price_to is not None and p.price_to != p.price_from:
        amount = f"{_money(p.price_from)}–{_money(p.price_to)} {p.currency}"
    else:
        amount = f"{_money(p.price_from)} {p.currency}"
    unit = f" / {p.unit}" if p.unit else ""
    return f"{p.item}: {amount}{unit}" + (f" ({p.note})" if p.note else "")


def _score(text: str, stems: set[str], keywords: tuple[str, ...], title: str) -> int:
    score = sum(3 for k in keywords if _keyword_hit(k, text, stems))
    return score + len(_stems(title) & stems)


def relevant_entries(text: str, limit: int = 6, knowledge: Knowledge | None = None) -> list[str]:
    """The knowledge entries that match the client's text, best first, each as one line for the LLM's prompt
    (the answer with its English variant when there is one). Reads only a bounded prefix of the text."""
    base = knowledge if knowledge is not None else knowledge_for_brain()
    text = (text or "")[:TEXT_PREFIX_CHARS].lower()
    stems = _stems(text)
    if not stems or not len(base):
        return []
    scored: list[tuple[int, int, str]] = []

    def add(score: int, line: str) -> None:
        if score > 0:
            scored.append((-score, len(scored), line))

    for q in base.qas:
        add(
            _score(text, stems, q.keywords, q.question),
            f"Q&A — {q.question}: {q.answer}" + (f" [EN: {q.answer_en}]" if q.answer_en else ""),
        )
    for p in base.prices:
        add(_score(text, stems, p.keywords, p.item), "Price — " + price_text(p))
    for t in base.terms:
        add(
            _score(text, stems, t.keywords, t.title),
            f"Terms — {t.title}: {t.text}" + (f" [EN: {t.text_en}]" if t.text_en else ""),
        )
    delivery_asked = any(w in text for w in _DELIVERY_WORDS)
    city_hit = False
    for d in base.delivery:
        if d.city and _stems(d.city) & stems:
            city_hit = True
            add(4 + delivery_asked, f"Delivery ({d.city}): {d.text}" + (f" [EN: {d.text_en}]" if d.text_en else ""))
    for d in base.delivery:
        if not d.city and delivery_asked and not city_hit:
            add(2, f"Delivery (other cities): {d.text}" + (f" [EN: {d.text_en}]" if d.text_en else ""))
    scored.sort()
    return [line for _, _, line in scored[: max(0, limit)]]
