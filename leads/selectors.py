"""Reads for leads: visibility by role, lists, the board."""
from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal

from django.conf import settings
from django.db.models import Count, F, IntegerField, OuterRef, Q, Subquery, Sum, Value
from django.db.models.functions import Coalesce
from django.utils import timezone

from accounts.models import Role, User
from core.realtime import group_staff, group_user
from leads.models import Lead, LeadRead, Stage, StageKind
from tenants.selectors import tenant_config_current


def managers_see_all() -> bool:
    return bool(tenant_config_current().get("leads", {}).get("managers_see_all", True))


def qualification_fields() -> list[dict]:
    """The tenant's qualification fields as the lead card shows and edits them."""
    return [{k: f.get(k) for k in ("key", "label", "label_en", "type", "required", "choices")}
            for f in tenant_config_current()["qualification"]]


def event_user_names(events) -> dict[str, str]:
    """E-mail → name of the people a timeline's entries name by e-mail (one query; the timeline shows names)."""
    emails = {value for event in events for value in (event.before, event.after)
              if isinstance(value, str) and "@" in value}
    if not emails:
        return {}
    return {user.email: user.full_name or user.email for user in User.objects.filter(email__in=emails)}


def lead_no_answer(lead) -> bool:
    """Our message has waited for an answer longer than NO_ANSWER_AFTER_MINUTES (the timer runs from
    `waiting_since`; a reply seconds old is not yet "no answer")."""
    return lead.waiting_since is not None and (
        timezone.now() - lead.waiting_since).total_seconds() >= settings.NO_ANSWER_AFTER_MINUTES * 60


def user_sees_all_leads(*, user) -> bool:
    return user.role in (Role.OWNER, Role.HEAD) or (user.role == Role.MANAGER and managers_see_all())


def lead_audience_groups(*, tenant_id: int, lead) -> list[str]:
    """Websocket groups allowed to see a lead: everyone who sees all, plus its manager when restricted."""
    groups = [group_staff(tenant_id)]
    if lead.assignee_id and not managers_see_all():
        groups.append(group_user(tenant_id, lead.assignee_id))
    return groups


def ai_silence_reason(*, cfg: dict, lead: Lead) -> str:
    """Why the AI must stay silent for this lead ("" when it may write): the tenant's `ai.enabled`, the lead's own
    switch, a person handling it, a refusal, a closed deal. `cfg`: the tenant's configuration."""
    if not (cfg.get("ai") or {}).get("enabled", True):
        return "AI is off for the tenant"
    if not lead.ai_enabled:
        return "AI is off for the lead"
    if lead.handler_id:
        return "a person handles the dialog"
    if lead.refused:
        return "the client refused"
    if lead.stage.kind in (StageKind.WON, StageKind.LOST):
        return f"the lead is {lead.stage.kind}"
    return ""


def leads_visible_to(*, user):
    qs = Lead.objects.select_related("stage", "assignee", "handler")
    if user_sees_all_leads(user=user):
        return qs
    return qs.filter(assignee=user)


ORDERINGS = {"-score": ("-score", "-id"), "score": ("score", "id"), "-created_at": ("-created_at", "-id"),
             "created_at": ("created_at", "id"), "-last_message_at": ("-last_message_at", "-id"),
             "last_message_at": ("last_message_at", "id"), "name": ("name", "id"), "-name": ("-name", "-id")}


# What else the list's search box (`q`) looks in, contributed by the apps that own it (conversations: the words of
# the dialog). Leads cannot import those apps (they sit above it); each registers a function from the search text to
# a condition on Lead (`lead_search_condition`), imported by its AppConfig.ready().
_SEARCH_CONDITIONS: dict[str, Callable[[str], Q]] = {}


def lead_search_condition(func: Callable[[str], Q]) -> Callable[[str], Q]:
    """Registers `func(q) -> Q` as one more place the leads list's search looks in."""
    _SEARCH_CONDITIONS[f"{func.__module__}.{func.__qualname__}"] = func
    return func


def with_read_count(qs, *, user):
    """Adds `read_count`: how many of each lead's client messages the user had when they last opened it (0 never);
    the unread count is inbound_count minus it. One indexed lookup per row (uniq_lead_read)."""
    if "read_count" in qs.query.annotations:
        return qs
    seen = LeadRead.objects.filter(user=user, lead=OuterRef("pk")).values("read_count")[:1]
    return qs.annotate(read_count=Coalesce(Subquery(seen, output_field=IntegerField()), Value(0)))


def lead_unread_count(*, lead, user) -> int:
    seen = LeadRead.objects.filter(user=user, lead=lead).values_list("read_count", flat=True).first() or 0
    return max(0, lead.inbound_count - seen)


def leads_filtered(*, user, params: dict, read_counts: bool = True) -> object:
    """The list endpoint's filters, as `leads.views.LeadFilterIn` validated them (typed; absent ones left out):
    stage ids, stage kinds, temperatures, assignee (`none`, `me` or an id), ai (`on`/`off`), channels, sources,
    campaigns, tags (all of them), creation dates, needs_human, q (name, city, phone digits, and what other apps
    register: the words of the dialog), ordering."""
    qs = leads_visible_to(user=user)
    if params.get("stage"):
        qs = qs.filter(stage_id__in=params["stage"])
    if params.get("stage_kind"):
        qs = qs.filter(stage__kind__in=params["stage_kind"])
    if params.get("temperature"):
        qs = qs.filter(temperature__in=params["temperature"])
    assignee = params.get("assignee")
    if assignee == "none":
        qs = qs.filter(assignee__isnull=True)
    elif assignee == "me":
        qs = qs.filter(assignee=user)
    elif assignee is not None:
        qs = qs.filter(assignee_id=assignee)
    ai = params.get("ai")
    if ai == "on":
        qs = qs.filter(ai_enabled=True, handler__isnull=True)
    elif ai == "off":
        qs = qs.filter(Q(ai_enabled=False) | Q(handler__isnull=False))
    for name in ("channel", "source", "campaign"):
        if params.get(name):
            qs = qs.filter(**{f"{name}__in": params[name]})
    if params.get("tag"):
        qs = qs.filter(tags__contains=[" ".join(t.split()).lstrip("#").lower() for t in params["tag"]])
    if "needs_human" in params:
        qs = qs.filter(needs_human=params["needs_human"])
    if "waiting" in params:  # the client's message waits for our answer
        qs = qs.filter(client_waiting_since__isnull=not params["waiting"])
    if read_counts or "unread" in params:
        qs = with_read_count(qs, user=user)
    if "unread" in params:
        qs = qs.filter(inbound_count__gt=F("read_count")) if params["unread"] \
            else qs.filter(inbound_count__lte=F("read_count"))
    if params.get("created_from"):
        qs = qs.filter(created_at__date__gte=params["created_from"])
    if params.get("created_to"):
        qs = qs.filter(created_at__date__lte=params["created_to"])
    q = (params.get("q") or "").strip()
    if q:
        digits = "".join(ch for ch in q if ch.isdigit())
        match = Q(name__icontains=q) | Q(city__icontains=q)
        if len(digits) >= 3:
            match |= Q(phone__contains=digits)
        for condition in _SEARCH_CONDITIONS.values():
            match |= condition(q)
        qs = qs.filter(match)
    return qs.order_by(*ORDERINGS.get(params.get("ordering") or "-score", ORDERINGS["-score"]))


BOARD_SEARCH_LIMIT = 1000


def board(*, user, per_stage: int = 30, params: dict | None = None, totals: bool = True) -> list[dict]:
    """Stages in order, each with its count and (`totals`) the sum of its deals' amounts — one aggregate query over
    the leads visible to the user and passing the list's filters (`params` as for `leads_filtered`: mine,
    unassigned, waiting, hot, search …) — and its first cards by score."""
    visible = leads_filtered(user=user, params=params, read_counts=False) if params else leads_visible_to(user=user)
    if params and (params.get("q") or "").strip():
        # A search reads the dialogs' words (a scan of messages): once, for the best BOARD_SEARCH_LIMIT matches,
        # not once per column and again for the counts.
        ids = list(visible.order_by("-score", "-id").values_list("pk", flat=True)[:BOARD_SEARCH_LIMIT])
        visible = leads_visible_to(user=user).filter(pk__in=ids)
    # COUNT(*), not COUNT(id): with only stage_id and amount read, the (stage, amount) index answers alone
    sums = {"n": Count("*"), "amount": Sum("amount")} if totals else {"n": Count("*")}
    totals_by_stage = {row["stage_id"]: row for row in visible.order_by().values("stage_id").annotate(**sums)}
    columns = []
    for stage in Stage.objects.order_by("position", "id"):
        cards = list(with_read_count(visible.filter(stage=stage), user=user).order_by("-score", "-id")[:per_stage])
        row = totals_by_stage.get(stage.pk) or {}
        columns.append({"stage": stage, "count": row.get("n", 0), "amount": row.get("amount") or Decimal(0),
                        "leads": cards})
    return columns


def leads_by_phone(*, phones: set[str], lock: bool = False) -> dict[str, Lead]:
    """The oldest lead of each phone (the one new contacts with that phone merge into); `lock`: their rows locked
    for the caller's transaction, in id order."""
    found: dict[str, Lead] = {}
    qs = Lead.objects.filter(phone__in=phones).order_by("id")
    for lead in (qs.select_for_update(of=("self",)) if lock else qs):
        found.setdefault(lead.phone, lead)
    return found


EXPORT_HEADER = ["id", "name", "phone", "email", "city", "channel", "source", "campaign", "stage", "temperature",
                 "score", "assignee", "tags", "created_at"]
EXPORT_MAX_ROWS = 100_000


def leads_export_rows(*, user, params: dict) -> tuple[list[str], list[list[object]]]:
    """The filtered list (`leads_filtered`: the same filters and visibility) as the export's header and rows,
    at most EXPORT_MAX_ROWS."""
    qs = leads_filtered(user=user, params=params).select_related(None).select_related("stage", "assignee")
    rows = [[lead.pk, lead.name, lead.phone, lead.email, lead.city, lead.channel, lead.source, lead.campaign,
             lead.stage.name, lead.temperature, lead.score, lead.assignee.email if lead.assignee_id else "",
             ", ".join(lead.tags or []), lead.created_at.isoformat()]
            for lead in qs[:EXPORT_MAX_ROWS].iterator(chunk_size=2000)]
    return EXPORT_HEADER, rows
