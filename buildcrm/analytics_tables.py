"""GET /api/analytics/tables/ and /api/analytics/export/<table>/: the tables the seeds ask for (money by manager,
source and channel; the cohort funnel; messages by channel; message → lead conversion; lead quality by source; the
most asked questions; active conversations; sales cycle length), each also as CSV.

The cohort is the leads created in the period (tenant-local days, as the summary). Owners and heads see every lead;
a manager sees only the leads assigned to them (their own figures, never a colleague's money) — whatever
`leads.managers_see_all` says for the board. Each table is a handful of aggregate queries."""
from __future__ import annotations

import datetime as dt
from decimal import Decimal
from statistics import median

from django.db import connection
from django.db.models import Avg, Count, Q, Sum

from accounts.models import Role
from buildcrm.analytics import _tenant_tz, analytics_period
from conversations.models import Message
from core.spreadsheet import csv_bytes
from leads.models import Lead, LeadEvent, Stage, StageKind
from leads.services import channel_of
from tenants.selectors import tenant_config_current, tenant_currency

TOP_QUESTIONS = 20
ACTIVE_DAYS = 7
MAX_ACTIVE_DAYS = 90

# Column keys per table, in order (the PWA and the CSV header name them in the user's language).
TABLES: dict[str, list[str]] = {
    "money_by_manager": ["manager", "leads", "won", "won_amount", "open_amount", "avg_deal"],
    "money_by_source": ["source", "leads", "won", "won_amount", "open_amount", "avg_deal"],
    "money_by_channel": ["channel", "leads", "won", "won_amount", "open_amount", "avg_deal"],
    "cohort_funnel": ["stage", "kind", "reached", "share"],
    "messages_by_channel": ["channel", "inbound", "outbound", "total"],
    "message_conversion": ["channel", "dialogs", "qualified", "won", "qualified_rate", "won_rate"],
    "quality_by_source": ["source", "leads", "hot", "warm", "cold", "hot_share", "warm_share", "cold_share",
                          "avg_score"],
    "top_questions": ["kind", "question", "leads"],
    "active_conversations": ["channel", "active"],
    "sales_cycle": ["segment", "won", "median_days", "avg_days"],
}

HEADERS: dict[str, tuple[str, str]] = {
    "manager": ("Менеджер", "Manager"), "source": ("Источник", "Source"), "channel": ("Канал", "Channel"),
    "leads": ("Заявки", "Leads"), "won": ("Успешно", "Won"), "won_amount": ("Выручка", "Revenue (won)"),
    "open_amount": ("В работе, сумма", "Open deals amount"), "avg_deal": ("Средний чек", "Average deal"),
    "stage": ("Этап", "Stage"), "kind": ("Тип", "Kind"), "reached": ("Дошли", "Reached"), "share": ("Доля", "Share"),
    "inbound": ("Входящие", "Inbound"), "outbound": ("Исходящие", "Outbound"), "total": ("Всего", "Total"),
    "dialogs": ("Диалоги", "Dialogs"), "qualified": ("Стали заявкой", "Became leads"),
    "qualified_rate": ("Конверсия в заявку", "Lead rate"), "won_rate": ("Конверсия в успех", "Win rate"),
    "hot": ("Горячие", "Hot"), "warm": ("Тёплые", "Warm"), "cold": ("Холодные", "Cold"),
    "hot_share": ("Доля горячих", "Hot share"), "warm_share": ("Доля тёплых", "Warm share"),
    "cold_share": ("Доля холодных", "Cold share"), "avg_score": ("Средний скоринг", "Average score"),
    "question": ("Вопрос", "Question"), "active": ("Активные диалоги", "Active conversations"),
    "segment": ("Срез", "Segment"), "median_days": ("Медиана, дней", "Median, days"),
    "avg_days": ("Среднее, дней", "Average, days"),
}

# The brain's intents and the kinds of the top-questions table, as the CSV names them (ru, en).
VALUE_LABELS: dict[str, tuple[str, str]] = {
    "price_question": ("Сколько стоит?", "How much is it?"), "call_request": ("Просит звонок", "Asks for a call"),
    "refusal": ("Отказ", "Declines"), "human_request": ("Просит человека", "Asks for a person"),
    "thinking": ("«Подумаю»", "\"I'll think about it\""), "intent": ("Намерение", "Intent"), "fact": ("Факт", "Fact"),
}

# What "became a lead" means for message → lead conversion: asked for a call, or reached this stage kind (or a
# later stage by position).
QUALIFIED_KIND = StageKind.COMPLETE


def _rate(part: int, whole: int) -> float:
    return round(part / whole, 4) if whole else 0.0


def _money(value) -> str:
    return f"{(value or Decimal(0)):.2f}"


def analytics_leads(*, user):
    """The leads a user's analytics count: all for owners and heads, a manager's own (assigned) ones."""
    qs = Lead.objects.order_by()
    return qs.filter(assignee=user) if user.role == Role.MANAGER else qs


def _money_by(leads, field: str, key: str) -> list[dict]:
    """Leads, won deals, revenue (the won deals' amounts), open deals' amount and average deal per `field` value."""
    rows = leads.values(field).annotate(
        leads=Count("id"), won=Count("id", filter=Q(stage__kind=StageKind.WON)),
        won_amount=Sum("amount", filter=Q(stage__kind=StageKind.WON)),
        open_amount=Sum("amount", filter=~Q(stage__kind__in=(StageKind.WON, StageKind.LOST))),
    ).order_by(field)
    out = [{key: row[field] or "", "leads": row["leads"], "won": row["won"], "won_amount": _money(row["won_amount"]),
            "open_amount": _money(row["open_amount"]),
            "avg_deal": _money((row["won_amount"] or 0) / row["won"] if row["won"] else 0)} for row in rows]
    return sorted(out, key=lambda r: (-Decimal(r["won_amount"]), -r["leads"], r[key]))


def _reach(leads) -> dict[int, tuple[int, bool]]:
    """Per lead of `leads`: the highest position of a non-lost stage it has ever been at (its current stage and
    every stage of its stage_changed history), and whether it was ever at a lost stage."""
    stages = {s.pk: s for s in Stage.objects.all()}
    ids_sql, ids_params = leads.values("id").query.sql_with_params()
    events = connection.ops.quote_name(LeadEvent._meta.db_table)
    lead_table = connection.ops.quote_name(Lead._meta.db_table)
    sql = f"""
        SELECT l.id, l.stage_id, COALESCE(array_agg(DISTINCT h.stage_id) FILTER (WHERE h.stage_id IS NOT NULL),
                                          '{{}}')
        FROM {lead_table} l
        LEFT JOIN LATERAL (
            SELECT CASE WHEN jsonb_typeof(e.after->'id') = 'number' THEN (e.after->>'id')::bigint END AS stage_id
            FROM {events} e WHERE e.lead_id = l.id AND e.kind = 'stage_changed'
            UNION ALL
            SELECT CASE WHEN jsonb_typeof(e.before->'id') = 'number' THEN (e.before->>'id')::bigint END
            FROM {events} e WHERE e.lead_id = l.id AND e.kind = 'stage_changed'
        ) h ON true
        WHERE l.id IN ({ids_sql})
        GROUP BY l.id, l.stage_id
    """
    with connection.cursor() as cursor:
        cursor.execute(sql, ids_params)
        rows = cursor.fetchall()
    reach: dict[int, tuple[int, bool]] = {}
    for lead_id, current, history in rows:
        been = [stages[s] for s in {current, *history} if s in stages]
        top = max((s.position for s in been if s.kind != StageKind.LOST), default=-1)
        reach[lead_id] = (top, any(s.kind == StageKind.LOST for s in been))
    return reach


def _cohort_funnel(reach: dict[int, tuple[int, bool]]) -> list[dict]:
    total = len(reach)
    out = []
    for stage in Stage.objects.order_by("position", "id"):
        if stage.kind == StageKind.LOST:
            n = sum(1 for _, lost in reach.values() if lost)
        else:
            n = sum(1 for top, _ in reach.values() if top >= stage.position)
        out.append({"stage": stage.name, "kind": stage.kind, "reached": n, "share": _rate(n, total)})
    return out


def _messages_by_channel(leads, since, until) -> list[dict]:
    rows = Message.objects.filter(lead__in=leads.values("id"), created_at__gte=since, created_at__lt=until) \
        .order_by().values("provider").annotate(inbound=Count("id", filter=Q(direction="in")),
                                                outbound=Count("id", filter=Q(direction="out")))
    per: dict[str, dict] = {}
    for row in rows:
        channel = channel_of(row["provider"])
        acc = per.setdefault(channel, {"channel": channel, "inbound": 0, "outbound": 0, "total": 0})
        acc["inbound"] += row["inbound"]
        acc["outbound"] += row["outbound"]
        acc["total"] += row["inbound"] + row["outbound"]
    return sorted(per.values(), key=lambda r: (-r["total"], r["channel"]))


def _message_conversion(leads, reach) -> list[dict]:
    qualified_at = min((s.position for s in Stage.objects.filter(kind=QUALIFIED_KIND)), default=None)
    rows = leads.filter(last_inbound_at__isnull=False).values_list("id", "channel", "call_requested", "stage__kind")
    per: dict[str, dict] = {}
    for lead_id, channel, call, kind in rows:
        acc = per.setdefault(channel, {"channel": channel, "dialogs": 0, "qualified": 0, "won": 0})
        acc["dialogs"] += 1
        top = reach.get(lead_id, (-1, False))[0]
        acc["qualified"] += bool(call or kind == StageKind.WON or (qualified_at is not None and top >= qualified_at))
        acc["won"] += kind == StageKind.WON
    out = sorted(per.values(), key=lambda r: (-r["dialogs"], r["channel"]))
    for row in out:
        row["qualified_rate"] = _rate(row["qualified"], row["dialogs"])
        row["won_rate"] = _rate(row["won"], row["dialogs"])
    return out


def _quality_by_source(leads) -> list[dict]:
    rows = leads.values("source").annotate(
        leads=Count("id"), hot=Count("id", filter=Q(temperature="hot")), warm=Count("id", filter=Q(temperature="warm")),
        cold=Count("id", filter=Q(temperature="cold")), avg_score=Avg("score")).order_by("-leads", "source")
    return [{"source": row["source"] or "", "leads": row["leads"], "hot": row["hot"], "warm": row["warm"],
             "cold": row["cold"], "hot_share": _rate(row["hot"], row["leads"]),
             "warm_share": _rate(row["warm"], row["leads"]), "cold_share": _rate(row["cold"], row["leads"]),
             "avg_score": round(float(row["avg_score"] or 0), 1)} for row in rows]


def _top_questions(leads) -> list[dict]:
    """What clients asked, by how many leads: the brain's intents (ai_state.intents) and the tenant's facts the AI
    answered with (ai_state.facts_used: indices into ai.facts). Knowledge-base answers are not recorded per lead."""
    ids_sql, ids_params = leads.values("id").query.sql_with_params()
    lead_table = connection.ops.quote_name(Lead._meta.db_table)
    sql = f"""
        SELECT 'intent', x.v, COUNT(DISTINCT l.id) FROM {lead_table} l,
            jsonb_array_elements_text(CASE WHEN jsonb_typeof(l.ai_state->'intents') = 'array'
                                      THEN l.ai_state->'intents' ELSE '[]'::jsonb END) AS x(v)
        WHERE l.id IN ({ids_sql}) GROUP BY x.v
        UNION ALL
        SELECT 'fact', x.v, COUNT(DISTINCT l.id) FROM {lead_table} l,
            jsonb_array_elements_text(CASE WHEN jsonb_typeof(l.ai_state->'facts_used') = 'array'
                                      THEN l.ai_state->'facts_used' ELSE '[]'::jsonb END) AS x(v)
        WHERE l.id IN ({ids_sql}) GROUP BY x.v
    """
    with connection.cursor() as cursor:
        cursor.execute(sql, ids_params + ids_params)
        rows = cursor.fetchall()
    facts = (tenant_config_current().get("ai") or {}).get("facts") or []
    out = []
    for kind, value, n in rows:
        if kind == "intent":
            if value == "greeting":
                continue  # a hello is not a question
            out.append({"kind": "intent", "question": value[:200], "leads": n})
        elif value.isdigit() and int(value) < len(facts):
            fact = facts[int(value)]
            words = ", ".join(fact.get("keywords") or [])
            out.append({"kind": "fact", "question": (words or fact.get("text") or "")[:200], "leads": n})
    out.sort(key=lambda r: (-r["leads"], r["kind"], r["question"]))
    return out[:TOP_QUESTIONS]


def _active_conversations(user, days: int) -> list[dict]:
    since = dt.datetime.now(dt.UTC) - dt.timedelta(days=days)
    rows = analytics_leads(user=user).filter(last_inbound_at__gte=since, last_outbound_at__gte=since) \
        .values("channel").annotate(active=Count("id")).order_by("-active", "channel")
    return [{"channel": row["channel"], "active": row["active"]} for row in rows]


def _sales_cycle(leads) -> list[dict]:
    """Days from creation to the first move into a won stage, for the cohort's leads that are won now."""
    won = leads.filter(stage__kind=StageKind.WON)
    firsts: dict[int, dt.datetime] = {}
    for lead_id, at in LeadEvent.objects.filter(lead__in=won.values("id"), kind="stage_changed",
                                                after__kind=StageKind.WON).order_by("created_at") \
            .values_list("lead_id", "created_at"):
        firsts.setdefault(lead_id, at)
    per: dict[str, list[float]] = {"all": []}
    for lead_id, created, channel in won.values_list("id", "created_at", "channel"):
        if lead_id not in firsts:
            continue  # created as won (an import) or moved before history was kept: no cycle to measure
        days = max(0.0, (firsts[lead_id] - created).total_seconds() / 86400)
        per["all"].append(days)
        per.setdefault(channel, []).append(days)
    return [{"segment": segment, "won": len(values),
             "median_days": round(median(values), 2) if values else None,
             "avg_days": round(sum(values) / len(values), 2) if values else None}
            for segment, values in per.items()]


def analytics_tables(*, user, date_from: str | None, date_to: str | None, active_days: int = ACTIVE_DAYS,
                     only: str | None = None) -> dict:
    """Every table (or just `only`) for the leads created in the period that the user's analytics count."""
    tz = _tenant_tz()
    start, end = analytics_period(date_from=date_from, date_to=date_to, tz=tz)
    since = dt.datetime.combine(start, dt.time.min, tzinfo=tz)
    until = dt.datetime.combine(end + dt.timedelta(days=1), dt.time.min, tzinfo=tz)
    leads = analytics_leads(user=user).filter(created_at__gte=since, created_at__lt=until)
    wanted = [only] if only else list(TABLES)
    reach = _reach(leads) if {"cohort_funnel", "message_conversion"} & set(wanted) else {}

    builders = {
        "money_by_manager": lambda: _money_by(leads, "assignee__email", "manager"),
        "money_by_source": lambda: _money_by(leads, "source", "source"),
        "money_by_channel": lambda: _money_by(leads, "channel", "channel"),
        "cohort_funnel": lambda: _cohort_funnel(reach),
        "messages_by_channel": lambda: _messages_by_channel(leads, since, until),
        "message_conversion": lambda: _message_conversion(leads, reach),
        "quality_by_source": lambda: _quality_by_source(leads),
        "top_questions": lambda: _top_questions(leads),
        "active_conversations": lambda: _active_conversations(user, active_days),
        "sales_cycle": lambda: _sales_cycle(leads),
    }
    return {
        "period": {"from": start.isoformat(), "to": end.isoformat(), "timezone": str(tz)},
        "currency": tenant_currency(),
        "active_days": active_days,
        "tables": {name: {"columns": TABLES[name], "rows": builders[name]()} for name in wanted},
    }


def table_csv(*, name: str, rows: list[dict], lang: str) -> bytes:
    """One table as a spreadsheet-safe CSV file (core.spreadsheet), headers in `lang`."""
    columns = TABLES[name]
    return csv_bytes([HEADERS[c][1 if lang == "en" else 0] for c in columns],
                     ([_label(name, c, row.get(c), lang) for c in columns] for row in rows))


def _label(table: str, column: str, value, lang: str):
    """Words for the codes of the top-questions table (intents, kinds); every other value as it is."""
    if table == "top_questions" and column in ("kind", "question") and value in VALUE_LABELS:
        return VALUE_LABELS[value][1 if lang == "en" else 0]
    return value


