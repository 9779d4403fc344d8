"""GET /api/analytics/summary/: the sales picture over the leads created in a period and visible to the user.

Days are the tenant's local days (its configured time zone). Rates are fractions 0..1 (4 decimals).
All figures come from a handful of aggregate queries, whatever the number of leads."""
from __future__ import annotations

import datetime as dt
import re
import zoneinfo

from django.db import connection
from django.db.models import Count, Exists, OuterRef, Q
from django.db.models.functions import TruncDate
from rest_framework.exceptions import ValidationError

from conversations.models import Message
from followups.models import FollowUp, FollowUpStatus
from leads.models import LeadEvent, Stage, StageKind
from leads.selectors import leads_visible_to
from tenants.selectors import tenant_config_current

DEFAULT_DAYS = 30
MAX_DAYS = 731
# Days a period may name: beyond them a day's bounds in the tenant's time zone overflow Python's datetime.
FIRST_DAY, LAST_DAY = dt.date(1900, 1, 1), dt.date(2999, 12, 31)


def _parse_day(value: str | None, name: str) -> dt.date | None:
    text = str(value or "").strip()
    if not text:
        return None
    try:
        if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
            raise ValueError(text)
        day = dt.date.fromisoformat(text)
    except ValueError:
        raise ValidationError({name: [f"Неверная дата {text[:40]!r}: нужен формат ГГГГ-ММ-ДД."]}) from None
    if not FIRST_DAY <= day <= LAST_DAY:
        raise ValidationError({name: [f"Дата {day} вне диапазона {FIRST_DAY}…{LAST_DAY}."]})
    return day


def _tenant_tz() -> zoneinfo.ZoneInfo:
    try:
        return zoneinfo.ZoneInfo(tenant_config_current().get("timezone") or "UTC")
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return zoneinfo.ZoneInfo("UTC")


def analytics_period(*, date_from: str | None, date_to: str | None, tz) -> tuple[dt.date, dt.date]:
    """The inclusive local-day period; default the last 30 days up to today. Bad input → ValidationError."""
    start, end = _parse_day(date_from, "from"), _parse_day(date_to, "to")
    if end is None:
        end = dt.datetime.now(tz).date() if start is None else max(start, dt.datetime.now(tz).date())
    if start is None:
        start = end - dt.timedelta(days=DEFAULT_DAYS - 1)
    if start > end:
        raise ValidationError({"from": [f"Начало периода {start} позже конца {end}."]})
    if (end - start).days + 1 > MAX_DAYS:
        raise ValidationError({"from": [f"Период длиннее {MAX_DAYS} дней."]})
    return start, end


def _rate(part: int, whole: int) -> float:
    return round(part / whole, 4) if whole else 0.0


def _seconds(value) -> float | None:
    return None if value is None else round(float(value), 1)


def _first_response(lead_ids_sql: str, params: tuple) -> dict:
    """Seconds from each lead's first client message to the first AI message after it: avg, p50, p90."""
    table = connection.ops.quote_name(Message._meta.db_table)
    sql = f"""
        WITH first_in AS (
            SELECT m.lead_id, MIN(m.created_at) AS at
            FROM {table} m
            WHERE m.direction = 'in' AND m.lead_id IN ({lead_ids_sql})
            GROUP BY m.lead_id
        ), waits AS (
            SELECT EXTRACT(EPOCH FROM (
                SELECT MIN(o.created_at) FROM {table} o
                WHERE o.lead_id = f.lead_id AND o.direction = 'out' AND o.author_kind = 'ai'
                  AND o.created_at >= f.at
            ) - f.at) AS s
            FROM first_in f
        )
        SELECT COUNT(s), AVG(s),
               percentile_cont(0.5) WITHIN GROUP (ORDER BY s),
               percentile_cont(0.9) WITHIN GROUP (ORDER BY s)
        FROM waits WHERE s IS NOT NULL
    """
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        count, avg, p50, p90 = cursor.fetchone()
    return {"avg": _seconds(avg), "p50": _seconds(p50), "p90": _seconds(p90), "count": count}


def _touches(leads, kind: str) -> dict:
    row = FollowUp.objects.filter(lead__in=leads.values("id"), kind=kind, status=FollowUpStatus.SENT).aggregate(
        sent=Count("id"), answered=Count("id", filter=Q(answered=True)))
    return {"sent": row["sent"], "answered": row["answered"], "rate": _rate(row["answered"], row["sent"])}


def analytics_summary(*, user, date_from: str | None, date_to: str | None) -> dict:
    tz = _tenant_tz()
    start, end = analytics_period(date_from=date_from, date_to=date_to, tz=tz)
    since = dt.datetime.combine(start, dt.time.min, tzinfo=tz)
    until = dt.datetime.combine(end + dt.timedelta(days=1), dt.time.min, tzinfo=tz)
    leads = leads_visible_to(user=user).filter(created_at__gte=since, created_at__lt=until).order_by()
    plain = leads.select_related(None)

    per_stage = dict(plain.values_list("stage_id").annotate(n=Count("id")).values_list("stage_id", "n"))
    stages = list(Stage.objects.order_by("position", "id"))
    funnel = [{"stage": s.pk, "name": s.name, "kind": s.kind, "count": per_stage.get(s.pk, 0)} for s in stages]
    total = sum(per_stage.values())
    won_ids = {s.pk for s in stages if s.kind == StageKind.WON}
    won = sum(n for pk, n in per_stage.items() if pk in won_ids)

    def grouped(field: str) -> list[dict]:
        rows = plain.values(field).annotate(count=Count("id")).order_by("-count", field)
        return [{field: row[field] or "", "count": row["count"]} for row in rows]

    ids_sql, ids_params = plain.values("id").query.sql_with_params()
    handed = plain.filter(
        Q(needs_human=True) | Q(handler__isnull=False)
        | Exists(LeadEvent.objects.filter(lead=OuterRef("pk"), kind="takeover"))
    ).count()

    days = {row["day"]: row for row in plain.annotate(day=TruncDate("created_at", tzinfo=tz)).values("day").annotate(
        leads=Count("id"), won=Count("id", filter=Q(stage__kind=StageKind.WON)))}
    by_day = []
    day = start
    while day <= end:
        row = days.get(day)
        by_day.append({"date": day.isoformat(), "leads": row["leads"] if row else 0, "won": row["won"] if row else 0})
        day += dt.timedelta(days=1)

    return {
        "period": {"from": start.isoformat(), "to": end.isoformat(), "timezone": str(tz)},
        "funnel": funnel,
        "conversion": {"total": total, "won": won, "rate": _rate(won, total)},
        "by_channel": grouped("channel"),
        "by_source": grouped("source"),
        "ai_first_response_seconds": _first_response(ids_sql, ids_params),
        "handed_to_human": {"count": handed, "share": _rate(handed, total)},
        "followups": _touches(plain, "followup"),
        "reengagement": _touches(plain, "reengagement"),
        "by_day": by_day,
    }
