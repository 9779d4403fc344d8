from django.conf import settings
from django.db import models


class Direction(models.TextChoices):
    IN = "in", "От клиента"
    OUT = "out", "Клиенту"


class MessageStatus(models.TextChoices):
    RECEIVED = "received", "Получено"
    QUEUED = "queued", "В очереди"
    SENT = "sent", "Отправлено"
    DELIVERED = "delivered", "Доставлено"
    READ = "read", "Прочитано"
    FAILED = "failed", "Ошибка"


class AuthorKind(models.TextChoices):
    CLIENT = "client", "Клиент"
    AI = "ai", "AI"
    USER = "user", "Сотрудник"
    SYSTEM = "system", "Система"


class Message(models.Model):
    # Empty only while a first message of a new client waits for a worker to create its lead (inbound_pending).
    lead = models.ForeignKey("leads.Lead", on_delete=models.CASCADE, related_name="messages", null=True)
    direction = models.CharField(max_length=3, choices=Direction.choices)
    kind = models.CharField(max_length=16, default="text")
    text = models.TextField(blank=True)
    media_url = models.URLField(max_length=1000, blank=True)
    mimetype = models.CharField(max_length=100, blank=True)
    caption = models.TextField(blank=True)
    items = models.JSONField(default=list, blank=True)
    template = models.JSONField(null=True, blank=True)
    status = models.CharField(max_length=10, choices=MessageStatus.choices)
    error = models.TextField(blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    # When the current delivery attempt was claimed: an attempt still queued long after it is one whose worker
    # died mid-send (or whose retry task was lost), and the stale sweep hands the message over again.
    claimed_at = models.DateTimeField(null=True, blank=True)
    provider = models.CharField(max_length=32)
    # Inbound: the provider's id (idempotency key). Outbound: the id the provider gave our message.
    provider_message_id = models.CharField(max_length=200, null=True, blank=True)
    author_kind = models.CharField(max_length=8, choices=AuthorKind.choices)
    author_user = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    # Why we sent it: reply, first_contact, followup, reengagement, onboarding, human.
    purpose = models.CharField(max_length=20, blank=True)
    meta = models.JSONField(default=dict, blank=True)
    # When the client took the message back (Instagram's unsend): kept, shown as withdrawn.
    deleted_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    # A client message stored by a webhook whose follow-up work (lead preview, live events, follow-ups,
    # the AI's turn) a worker has not done yet. Only inbound storage sets it; rows made elsewhere never wait.
    inbound_pending = models.BooleanField(default=False)
    # That work failing: how many times, and the last error. A message that keeps failing is set aside
    # (inbound_pending cleared, error kept) so the drain goes on with everyone else's; success clears the error.
    inbound_attempts = models.PositiveSmallIntegerField(default=0)
    inbound_error = models.TextField(blank=True)
    # A client's voice/audio note as text (speech to text), what the brain reads of it and what search finds;
    # transcript_status: "" (nothing to transcribe), pending (the AI turn waits for it), done, failed.
    transcript = models.TextField(blank=True)
    transcript_status = models.CharField(max_length=8, blank=True)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(
                fields=["provider", "provider_message_id"], name="uniq_provider_message",
                condition=models.Q(provider_message_id__isnull=False),
            )
        ]
        indexes = [
            models.Index(fields=["lead", "-id"], name="message_lead_id"),
            models.Index(fields=["id"], name="message_inbound_pending", condition=models.Q(inbound_pending=True)),
            # Tiny: client messages set aside after failing (tenant health counts them on every admin page).
            models.Index(fields=["id"], name="message_inbound_set_aside",
                         condition=models.Q(inbound_pending=False) & ~models.Q(inbound_error="")),
            # Small: only messages waiting for a worker (the stale-queue sweep reads them every minute).
            models.Index(fields=["created_at"], name="message_queued", condition=models.Q(status="queued")),
        ]


class InboundEvent(models.Model):
    """The raw webhook as it arrived, stored in the same transaction as the message it carries."""

    provider = models.CharField(max_length=32)
    event_id = models.CharField(max_length=200)
    payload = models.JSONField()
    received_at = models.DateTimeField(auto_now_add=True)
    processed_at = models.DateTimeField(null=True, blank=True)
    error = models.TextField(blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["provider", "event_id"], name="uniq_inbound_event")]


class TranscriptStatus(models.TextChoices):
    NONE = "", "—"
    PENDING = "pending", "Расшифровывается"
    DONE = "done", "Расшифровано"
    FAILED = "failed", "Не расшифровано"


# Message kinds that are speech: transcribed when a client sends them.
VOICE_KINDS = ("voice", "audio")


class QuickReply(models.Model):
    """A ready answer the team inserts into the chat composer; `{name}`-style placeholders are filled from the lead
    when inserted. Heads and owners manage them, everyone uses them."""

    title = models.CharField(max_length=80)
    text = models.TextField()
    position = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["position", "id"]


class LeadNote(models.Model):
    """An internal note of the team on a lead: shown in the chat beside the messages, never sent to the client and
    never read by the AI (it is not a Message, so no send path and no prompt ever sees it)."""

    lead = models.ForeignKey("leads.Lead", on_delete=models.CASCADE, related_name="notes")
    author = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    text = models.TextField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]
        indexes = [models.Index(fields=["lead", "-id"], name="leadnote_lead_id")]
