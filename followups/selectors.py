"""Reads for follow-ups, the content library and engagement."""
from __future__ import annotations

import re
from datetime import datetime

from django.db import connection
from django.db.models import Count, Q

from followups.models import Content, ContentDelivery, FollowUp, FollowUpKind, FollowUpStatus
from leads.models import LeadEvent
from tenants.selectors import pending_work_counter


def followups_of_lead(*, lead, limit: int = 100) -> list[FollowUp]:
    return list(FollowUp.objects.filter(lead=lead).order_by("-id")[:limit])


def content_list(*, active: bool | None = None, q: str = "", tag: str = "") -> list[Content]:
    qs = Content.objects.all()
    if active is not None:
        qs = qs.filter(active=active)
    if q:
        qs = qs.filter(Q(title__icontains=q) | Q(text__icontains=q))
    if tag:
        qs = qs.filter(tags__contains=[tag])
    return list(qs.order_by("id"))


WORD = re.compile(r"\w+", re.UNICODE)


def lead_interests(*, lead) -> set[str]:
    """What the lead cares about, lower-cased: `data.interests`, the words of its text values, the keys of its
    true flags, its city, campaign and source."""
    out: set[str] = set()
    data = lead.data if isinstance(lead.data, dict) else {}
    for key, value in data.items():
        if isinstance(value, bool):
            if value:
                out.add(key.lower())
        elif isinstance(value, str):
            out.update(w.lower() for w in WORD.findall(value))
        elif isinstance(value, list):
            out.update(str(v).lower() for v in value if isinstance(v, (str, int)))
    for value in (lead.city, lead.campaign, lead.source):
        if value:
            out.add(value.lower())
    return out


def content_delivered_ids(*, lead) -> set[int]:
    return set(ContentDelivery.objects.filter(lead=lead).values_list("content_id", flat=True))


def content_pick(*, lead, limit: int = 3, language: str | None = None) -> list[Content]:
    """The best active items for the lead's profile, never one it already got: +3 its stage is a target stage
    (−2 when the item targets other stages), +2 its temperature matches (−1 other), +2 per tag among its
    interests; an item in another language is left out. Ties: the older item first."""
    delivered = content_delivered_ids(lead=lead)
    language = language or (lead.ai_state or {}).get("language") or (connection.tenant.config or {}).get("language") \
        or "ru"
    interests = lead_interests(lead=lead)
    stage_kind = lead.stage.kind if lead.stage_id else ""
    scored = []
    for item in Content.objects.filter(active=True).exclude(pk__in=delivered).order_by("id"):
        if item.language and item.language != language:
            continue
        score = 0
        if item.stages:
            score += 3 if stage_kind in item.stages else -2
        if item.temperatures:
            score += 2 if lead.temperature in item.temperatures else -1
        score += 2 * len({str(t).lower() for t in item.tags or []} & interests)
        scored.append((-score, item.pk, item))
    scored.sort(key=lambda x: (x[0], x[1]))
    return [item for _, _, item in scored[:max(0, limit)]]


def engagement_stats(*, kind: str = FollowUpKind.REENGAGEMENT, since: datetime | None = None) -> dict:
    """Touches sent and how many got an answer (engagement rate), for one kind of touch."""
    qs = FollowUp.objects.filter(kind=kind, status=FollowUpStatus.SENT)
    if since is not None:
        qs = qs.filter(done_at__gte=since)
    agg = qs.aggregate(sent=Count("id"), answered=Count("id", filter=Q(answered=True)))
    rate = round(agg["answered"] / agg["sent"], 4) if agg["sent"] else 0.0
    return {"kind": kind, "sent": agg["sent"], "answered": agg["answered"], "rate": rate}


def campaign_joined(*, lead_id: int) -> bool:
    """Whether the lead joined a lead magnet (followups.services.campaign_on_new_lead marks it on the timeline)."""
    return LeadEvent.objects.filter(lead_id=lead_id, kind="campaign_joined").exists()


@pending_work_counter
def followups_pending_work() -> dict[str, int]:
    """The tenant health view's count of touches waiting to go out."""
    return {"pending_followups": FollowUp.objects.filter(status="pending").count()}


def content_offerable(*, lead, limit: int = 40) -> list[Content]:
    """Active library items the AI may still send this lead (never one it already got), in its language or any,
    oldest first, at most `limit` (issue 14: the brain's and the LLM prompt's list of content)."""
    language = (lead.ai_state or {}).get("language") or ""
    qs = Content.objects.filter(active=True).exclude(pk__in=ContentDelivery.objects.filter(lead=lead)
                                                     .values("content_id"))
    if language:
        qs = qs.filter(Q(language="") | Q(language=language))
    return list(qs.order_by("id")[:max(0, limit)])
