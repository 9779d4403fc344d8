"""Reads for conversations."""
from __future__ import annotations

from dataclasses import dataclass

from django.db.models import Exists, OuterRef, Q

from brain import prompts
from conversations.models import Message
from leads.models import LeadIdentity
from leads.selectors import lead_search_condition, leads_visible_to
from tenants.selectors import pending_work_counter


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
