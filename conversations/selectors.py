"""Reads for conversations."""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from django.db import connection
from django.db.models import Exists, OuterRef, Q
from django.utils import timezone

from brain import prompts
from conversations.models import LeadNote, Message, QuickReply
from integrations.registry import find
from leads.models import LeadIdentity
from leads.selectors import lead_search_condition, leads_visible_to
from tenants.selectors import pending_work_counter, tenant_config_current


def messages_page(*, lead, before: int | None = None, limit: int = 50) -> list[Message]:
    """The newest `limit` messages before an id, returned oldest → newest (uses the (lead, -id) index)."""
    qs = Message.objects.filter(lead=lead).select_related("author_user").order_by("-id")
    if before:
        qs = qs.filter(id__lt=before)
    return list(reversed(qs[:limit]))


@dataclass(frozen=True)
class DialogContext:
    """What a model reads of a dialog: the newest messages verbatim, the older ones as a running summary."""

    window: list[Message]
    summary: str
    summary_upto: int  # the newest message the summary covers


OLDER_FOLD_LIMIT = 60  # messages folded into the summary at once (the rest were folded by earlier turns)


def dialog_context(*, lead_id: int, upto: int, summary: str = "", summary_upto: int = 0) -> DialogContext:
    """The dialog up to message `upto` for a prompt: the last prompts.WINDOW_MESSAGES messages, and the running
    summary (`summary` covering messages up to `summary_upto`) with the messages that have left the window since
    folded in."""
    window = list(reversed(Message.objects.filter(lead_id=lead_id, id__lte=upto).order_by("-id")
                           [:prompts.WINDOW_MESSAGES]))
    if len(window) < prompts.WINDOW_MESSAGES or window[0].id - 1 <= summary_upto:
        return DialogContext(window=window, summary=summary, summary_upto=summary_upto)
    older = list(reversed(Message.objects.filter(lead_id=lead_id, id__gt=summary_upto, id__lt=window[0].id)
                          .order_by("-id")[:OLDER_FOLD_LIMIT]))
    if not older:
        return DialogContext(window=window, summary=summary, summary_upto=summary_upto)
    return DialogContext(window=window, summary=prompts.summary_fold(summary, older), summary_upto=older[-1].id)


def sandbox_lead_id(*, phone: str, user=None) -> int | None:
    """The lead of the sandbox client with this phone (digits); with `user`, only when that user may see it."""
    found = LeadIdentity.objects.filter(channel="sandbox", identity=phone)
    if user is not None:
        found = found.filter(lead__in=leads_visible_to(user=user).values("id"))
    return found.values_list("lead_id", flat=True).first()


def sandbox_dialog(*, phone: str, user=None) -> list[Message]:
    """The sandbox client's dialog; with `user`, only when that user may see the lead."""
    lead_id = sandbox_lead_id(phone=phone, user=user)
    if lead_id is None:
        return []
    return list(Message.objects.filter(lead_id=lead_id).select_related("author_user").order_by("id")[:500])


@lead_search_condition
def leads_with_words(q: str) -> Q:
    """The leads list's search looks in the words of the dialog too (leads.selectors.leads_filtered), voice notes'
    transcripts included."""
    return Q(Exists(Message.objects.filter(Q(text__icontains=q) | Q(transcript__icontains=q), lead=OuterRef("pk"))))


@pending_work_counter
def messages_pending_work() -> dict[str, int]:
    """The tenant health view's counts of messages: queued and failed sends, client messages stored but not yet
    processed by the inbound drain, and those it set aside."""
    return {
        "queued_messages": Message.objects.filter(status="queued").count(),
        "failed_messages": Message.objects.filter(status="failed").count(),
        "inbound_pending": Message.objects.filter(inbound_pending=True).count(),
        "inbound_set_aside": Message.objects.filter(inbound_pending=False).exclude(inbound_error="").count(),
    }


def texts_sent_by_ai(*, lead_id: int, limit: int = 50) -> list[str]:
    """The texts we (the AI, its chains and follow-ups — not a person) already sent to the lead, oldest first, at most
    the last `limit`: the brain never sends the same sentence twice (issue 14)."""
    rows = (Message.objects.filter(lead_id=lead_id, direction="out").exclude(author_kind="user")
            .exclude(text="").order_by("-id").values_list("text", flat=True)[:limit])
    return list(reversed(rows))


# --- chat tools (issue 16): quick replies, internal notes, the WhatsApp 24 h window and its templates ---------------


def quick_replies_list() -> list[QuickReply]:
    return list(QuickReply.objects.all()[:500])


def notes_of_lead(*, lead, limit: int = 200) -> list[LeadNote]:
    """The newest `limit` notes of the lead, oldest first."""
    return list(reversed(LeadNote.objects.filter(lead=lead).select_related("author").order_by("-id")[:limit]))


@dataclass(frozen=True)
class ReplyWindow:
    """Whether free text may reach the client now: `applies` when the lead's channel has a customer-service window
    (WhatsApp Cloud API's 24 h after the client's last message); while it is closed only `templates` may go out."""

    applies: bool
    open: bool
    last_inbound_at: datetime | None
    closes_at: datetime | None
    templates: list[dict]


WHATSAPP_CLOUD = "whatsapp"  # the Cloud API's provider name: the one channel with approved templates
_PLACEHOLDER = re.compile(r"\{\{\s*(\d{1,2})\s*\}\}")


def _variable_value(variable: str, *, lead, user, cfg: dict) -> str:
    value = {
        "name": lead.name, "phone": lead.phone, "city": lead.city,
        "manager": (getattr(user, "full_name", "") or "") if user is not None else "",
        "company": cfg.get("company") or getattr(connection.tenant, "name", ""),
    }.get(variable, "")
    # Meta refuses an empty parameter: a dash keeps the template sendable and shows the gap in the preview.
    return (value or "").strip()[:200] or "—"


def whatsapp_templates(*, lead, user=None) -> list[dict]:
    """The tenant's approved WhatsApp templates (`channels.whatsapp_cloud.templates`, plus the follow-up template
    when not listed) with their variables filled for this lead: {"name", "language", "text", "parameters"}."""
    cfg = tenant_config_current()
    wa = (cfg.get("channels") or {}).get("whatsapp_cloud") or {}
    default_language = wa.get("template_language") or "ru"
    listed = [t for t in wa.get("templates") or [] if isinstance(t, dict) and t.get("name")]
    if wa.get("followup_template") and all(t["name"] != wa["followup_template"] for t in listed):
        listed.append({"name": wa["followup_template"]})
    result = []
    for template in listed:
        parameters = [_variable_value(v, lead=lead, user=user, cfg=cfg) for v in template.get("variables") or []]

        def filled(match: re.Match, parameters: list[str] = parameters) -> str:
            index = int(match.group(1)) - 1
            return parameters[index] if 0 <= index < len(parameters) else match.group(0)

        result.append({"name": template["name"], "language": template.get("language") or default_language,
                       "text": _PLACEHOLDER.sub(filled, template.get("text") or ""), "parameters": parameters})
    return result


def reply_window(*, lead, user=None, now: datetime | None = None, with_templates: bool = True) -> ReplyWindow:
    sender = find(lead.provider)
    # Only where the tenant has the channel set up: on an unconfigured one nothing can be sent anyway (delivery says
    # why), and demo or sandbox-seeded leads keep a free composer.
    stored = ((connection.tenant.config or {}).get("channels") or {}).get(sender.config_key or "") if sender else None
    if sender is None or sender.window is None or not sender.configured(stored):
        return ReplyWindow(applies=False, open=True, last_inbound_at=lead.last_inbound_at, closes_at=None,
                           templates=[])
    now = now or timezone.now()
    is_open = sender.window_open(lead.last_inbound_at, now) or sender.human_window_open(lead.last_inbound_at, now)
    span = max(sender.window, sender.human_window or sender.window)  # a person may answer for the longer one
    closes_at = lead.last_inbound_at + span if lead.last_inbound_at else None
    return ReplyWindow(applies=True, open=is_open, last_inbound_at=lead.last_inbound_at, closes_at=closes_at,
                       templates=whatsapp_templates(lead=lead, user=user)
                       if with_templates and lead.provider == WHATSAPP_CLOUD else [])
