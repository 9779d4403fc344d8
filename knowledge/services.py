"""Writes of the knowledge base: create, change and delete entries after validating them (owners and heads through
the API; the demo seed). Every write invalidates the tenant's cached `Knowledge` (knowledge.selectors)."""

from __future__ import annotations

import logging
from decimal import Decimal
from typing import Any

from django.db import models, transaction

from knowledge import selectors
from knowledge.models import QA, DeliveryRule, PriceItem, Term

log = logging.getLogger("buildcrm.knowledge")

KINDS: dict[str, type[models.Model]] = {"qa": QA, "prices": PriceItem, "delivery": DeliveryRule, "terms": Term}
FIELDS: dict[str, tuple[str, ...]] = {
    "qa": ("question", "answer", "answer_en", "keywords"),
    "prices": ("item", "unit", "price_from", "price_to", "currency", "keywords", "note"),
    "delivery": ("city", "text", "text_en"),
    "terms": ("title", "text", "text_en", "keywords"),
}
MAX_ENTRIES = 500  # per kind: the brain reads the whole base every turn (bench: 200 entries well within budget)
MAX_KEYWORDS = 30
KEYWORD_CHARS = 50


class KnowledgeError(ValueError):
    """An entry the knowledge base cannot take: `field` names what is wrong."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


def keywords_clean(value: Any) -> list[str]:
    """Keywords lower-cased, trimmed, de-duplicated in order; at most MAX_KEYWORDS of at most KEYWORD_CHARS."""
    if value is None:
        return []
    if not isinstance(value, (list, tuple)):
        raise KnowledgeError("keywords", "a list of words is expected")
    out: list[str] = []
    for word in value:
        if not isinstance(word, str):
            raise KnowledgeError("keywords", "each keyword is text")
        word = " ".join(word.lower().split())
        if len(word) > KEYWORD_CHARS:
            raise KnowledgeError("keywords", f"at most {KEYWORD_CHARS} characters per keyword")
        if word and word not in out:
            out.append(word)
    if len(out) > MAX_KEYWORDS:
        raise KnowledgeError("keywords", f"at most {MAX_KEYWORDS} keywords")
    return out


def _clean(kind: str, fields: dict[str, Any], instance: models.Model | None) -> dict[str, Any]:
    data = {k: v for k, v in fields.items() if k in FIELDS[kind]}
    for key, value in list(data.items()):
        if isinstance(value, str):
            data[key] = value.strip()
    if "keywords" in data:
        data["keywords"] = keywords_clean(data["keywords"])
    merged = {**({k: getattr(instance, k) for k in FIELDS[kind]} if instance is not None else {}), **data}
    required = {"qa": ("question", "answer"), "prices": ("item",), "delivery": ("text",), "terms": ("title", "text")}[
        kind
    ]
    for key in required:
        if not str(merged.get(key) or "").strip():
            raise KnowledgeError(key, "must not be empty")
    if kind == "prices":
        low, high = merged.get("price_from"), merged.get("price_to")
        for key, value in (("price_from", low), ("price_to", high)):
            if value is not None and Decimal(value) < 0:
                raise KnowledgeError(key, "must not be negative")
        if low is None and high is not None:
            raise KnowledgeError("price_from", "a range needs its lower price")
        if low is not None and high is not None and Decimal(high) < Decimal(low):
            raise KnowledgeError("price_to", "must not be below price_from")
        if "currency" in data:
            data["currency"] = (data["currency"] or "KZT").upper()
    if kind == "delivery":
        if "city" in data:
            data["city"] = " ".join((data["city"] or "").split())
        city = str(merged.get("city") or "").strip().lower()
        taken = DeliveryRule.objects.filter(city__iexact=city)
        if instance is not None:
            taken = taken.exclude(pk=instance.pk)
        if taken.exists():
            raise KnowledgeError(
                "city", "this city already has a rule" if city else "the rule for every other city already exists"
            )
    return data


def _changed() -> None:
    # Now for this process and again after commit for every other one (a worker reads the new base on its next turn).
    selectors.knowledge_invalidate()
    transaction.on_commit(selectors.knowledge_invalidate)


def entry_create(*, kind: str, actor, **fields: Any) -> models.Model:
    """A new entry of `kind` (qa | prices | delivery | terms). Raises KnowledgeError."""
    model = KINDS[kind]
    if model.objects.count() >= MAX_ENTRIES:
        raise KnowledgeError("detail", f"at most {MAX_ENTRIES} entries of this kind")
    with transaction.atomic():
        entry = model.objects.create(**_clean(kind, fields, None))
        _changed()
    log.info("knowledge %s=%s created by=%s", kind, entry.pk, getattr(actor, "label", actor))
    return entry


def entry_update(*, kind: str, entry: models.Model, actor, **fields: Any) -> models.Model:
    data = _clean(kind, fields, entry)
    changed = [k for k, v in data.items() if getattr(entry, k) != v]
    if changed:
        with transaction.atomic():
            for key in changed:
                setattr(entry, key, data[key])
            entry.save()
            _changed()
        log.info("knowledge %s=%s changed %s by=%s", kind, entry.pk, ",".join(changed), getattr(actor, "label", actor))
    return entry


def entry_delete(*, kind: str, entry: models.Model, actor) -> None:
    pk = entry.pk
    with transaction.atomic():
        entry.delete()
        _changed()
    log.info("knowledge %s=%s deleted by=%s", kind, pk, getattr(actor, "label", actor))


def knowledge_replace(
    *, actor, qa: list[dict] = (), prices: list[dict] = (), delivery: list[dict] = (), terms: list[dict] = ()
) -> int:
    """The whole base replaced at once (the demo seed): all or nothing. Returns the number of entries."""
    with transaction.atomic():
        for model in KINDS.values():
            model.objects.all().delete()
        count = 0
        for kind, items in (("qa", qa), ("prices", prices), ("delivery", delivery), ("terms", terms)):
            for fields in items:
                KINDS[kind].objects.create(**_clean(kind, fields, None))
                count += 1
        _changed()
    log.info("knowledge replaced entries=%s by=%s", count, getattr(actor, "label", actor))
    return count
