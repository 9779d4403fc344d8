from django.conf import settings
from django.contrib.postgres.indexes import GinIndex
from django.db import models


class StageKind(models.TextChoices):
    NEW = "new", "Новые"
    IN_DIALOG = "in_dialog", "AI ведёт диалог"
    REQUESTS_CALL = "requests_call", "Просит звонок"
    INCOMPLETE = "incomplete", "Неполные данные"
    COMPLETE = "complete", "Полные данные"
    WON = "won", "Успешно"
    LOST = "lost", "Отказ"
    CUSTOM = "custom", "Свой этап"


# The kinds the AI's engine moves leads into (brain.engine.RANK): they may be renamed and recoloured, never deleted.
ENGINE_STAGE_KINDS = (StageKind.NEW, StageKind.IN_DIALOG, StageKind.REQUESTS_CALL, StageKind.INCOMPLETE,
                      StageKind.COMPLETE)
MAX_STAGES = 8

DEFAULT_STAGES = [
    (StageKind.NEW, "Новые", "#64748b"),
    (StageKind.IN_DIALOG, "AI ведёт диалог", "#3b82f6"),
    (StageKind.REQUESTS_CALL, "Просит звонок", "#f97316"),
    (StageKind.INCOMPLETE, "Неполные данные", "#eab308"),
    (StageKind.COMPLETE, "Полные данные", "#8b5cf6"),
    (StageKind.WON, "Успешно", "#22c55e"),
    (StageKind.LOST, "Отказ", "#ef4444"),
]


class Stage(models.Model):
    name = models.CharField(max_length=80)
    kind = models.CharField(max_length=20, choices=StageKind.choices, default=StageKind.CUSTOM)
    color = models.CharField(max_length=7, default="#64748b")
    position = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["position", "id"]

    def __str__(self) -> str:
        return self.name


class Temperature(models.TextChoices):
    HOT = "hot", "Горячий"
    WARM = "warm", "Тёплый"
    COLD = "cold", "Холодный"


class Channel(models.TextChoices):
    WHATSAPP = "whatsapp", "WhatsApp"
    TELEGRAM = "telegram", "Telegram"
    INSTAGRAM = "instagram", "Instagram"
    SANDBOX = "sandbox", "Песочница"


class Lead(models.Model):
    name = models.CharField(max_length=150, blank=True)
    phone = models.CharField(max_length=20, blank=True, db_index=True)
    email = models.EmailField(blank=True)
    city = models.CharField(max_length=100, blank=True)
    # The channel and adapter we answer through (the last one the client wrote from).
    channel = models.CharField(max_length=16, choices=Channel.choices, default=Channel.SANDBOX)
    provider = models.CharField(max_length=32, default="sandbox")
    source = models.CharField(max_length=32, blank=True, db_index=True)
    campaign = models.CharField(max_length=64, blank=True, db_index=True)
    source_info = models.TextField(blank=True)
    external_id = models.CharField(max_length=64, blank=True, db_index=True)

    stage = models.ForeignKey(Stage, on_delete=models.PROTECT, related_name="leads")
    # A person placed the lead by hand (the pin): the AI's engine leaves its stage alone until the lead is returned
    # to the AI. Who pinned it and when, for the card.
    stage_locked = models.BooleanField(default=False)
    stage_pinned_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="pinned_leads"
    )
    stage_pinned_at = models.DateTimeField(null=True, blank=True)
    data = models.JSONField(default=dict, blank=True)
    score = models.PositiveSmallIntegerField(default=0, db_index=True)
    temperature = models.CharField(max_length=8, choices=Temperature.choices, default=Temperature.COLD)
    score_reasons = models.JSONField(default=list, blank=True)
    # The deal's amount in the tenant's currency (config `currency`): typed on the card, or filled from the budget
    # the client stated until a person sets it (`amount_by_person`: from then on the budget leaves it alone).
    amount = models.DecimalField(max_digits=16, decimal_places=2, null=True, blank=True)
    amount_by_person = models.BooleanField(default=False)

    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="assigned_leads"
    )
    ai_enabled = models.BooleanField(default=True)
    # The person in charge of the dialog after a takeover; null means the AI handles it.
    handler = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="handled_leads"
    )
    needs_human = models.BooleanField(default=False)
    needs_human_reason = models.CharField(max_length=300, blank=True)
    refused = models.BooleanField(default=False)
    call_requested = models.BooleanField(default=False)
    preferred_time = models.CharField(max_length=100, blank=True)
    # Working memory of the AI manager for this lead (awaiting keys, facts used, summary, language...).
    ai_state = models.JSONField(default=dict, blank=True)

    # Denormalised preview of the newest message, so lists and the board need no per-card query.
    last_message = models.JSONField(null=True, blank=True)
    last_message_at = models.DateTimeField(null=True, blank=True, db_index=True)
    last_inbound_at = models.DateTimeField(null=True, blank=True)
    last_outbound_at = models.DateTimeField(null=True, blank=True)
    # Our last message waits for the client's answer since then ("no answer" flag and timer).
    waiting_since = models.DateTimeField(null=True, blank=True)
    # The client's message waits for our answer since then (the inbox's "client is waiting" timer): set by the first
    # unanswered inbound message, cleared by any outbound one (AI or person).
    client_waiting_since = models.DateTimeField(null=True, blank=True)
    # Client messages ever received: a user's unread count is this minus what they had seen (LeadRead.read_count).
    inbound_count = models.PositiveIntegerField(default=0)
    # Short labels, lower-cased (leads.services.tags_clean); `tags_auto` says which of them the AI put there from
    # what the client wrote (a person's edit of such a tag makes it theirs). JSON arrays of strings, not ArrayField:
    # the inbound batch inserts leads through core.db.insert_rows, whose unnest() cannot carry arrays. GIN-indexed
    # for the list's filter (`tags @> '["x"]'`).
    tags = models.JSONField(default=list, blank=True)
    tags_auto = models.JSONField(default=list, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-score", "-id"]
        indexes = [
            models.Index(fields=["stage", "-score", "-id"], name="lead_stage_score"),
            models.Index(fields=["assignee", "stage"], name="lead_assignee_stage"),
            # the board's per-stage totals read count and sum(amount) from this index alone
            models.Index(fields=["stage", "amount"], name="lead_stage_amount"),
            GinIndex(fields=["tags"], name="lead_tags_gin"),
        ]

    def __str__(self) -> str:
        return self.name or self.phone or f"lead {self.pk}"

    @property
    def handled_by_ai(self) -> bool:
        return self.handler_id is None and self.ai_enabled


class LeadIdentity(models.Model):
    """How a person reaches us: one lead per channel identity (phone for WhatsApp, chat id for Telegram)."""

    lead = models.ForeignKey(Lead, on_delete=models.CASCADE, related_name="identities")
    channel = models.CharField(max_length=16, choices=Channel.choices)
    identity = models.CharField(max_length=64)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["channel", "identity"], name="uniq_channel_identity")]


class ActorKind(models.TextChoices):
    AI = "ai", "AI"
    USER = "user", "Пользователь"
    SYSTEM = "system", "Система"


class LeadEvent(models.Model):
    """The audit timeline of a lead: who changed what, before → after, when."""

    lead = models.ForeignKey(Lead, on_delete=models.CASCADE, related_name="events")
    kind = models.CharField(max_length=40)
    actor_kind = models.CharField(max_length=8, choices=ActorKind.choices)
    actor_user = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    field = models.CharField(max_length=60, blank=True)
    before = models.JSONField(null=True, blank=True)
    after = models.JSONField(null=True, blank=True)
    text = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-id"]
        indexes = [models.Index(fields=["lead", "-id"], name="event_lead_id")]


class LeadRead(models.Model):
    """How far one user has read a lead's dialog: the lead's inbound_count when they last opened its card."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="lead_reads")
    lead = models.ForeignKey(Lead, on_delete=models.CASCADE, related_name="reads")
    read_count = models.PositiveIntegerField(default=0)
    read_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "lead"], name="uniq_lead_read")]


class AssignmentMode(models.TextChoices):
    OFF = "off", "Выключено"
    ROUND_ROBIN = "round_robin", "По очереди"
    RULES = "rules", "Правила, затем по очереди"


class AssignmentWhen(models.TextChoices):
    NEW_LEAD = "new_lead", "Новая заявка"
    CALL_REQUEST = "call_request", "Первая просьба о звонке"


class AssignmentSettings(models.Model):
    """The tenant's one row of automatic assignment: mode, when, rules, and the round-robin cursor (the last user
    given a lead; read and moved under a row lock so concurrent leads go to different managers)."""

    mode = models.CharField(max_length=16, choices=AssignmentMode.choices, default=AssignmentMode.OFF)
    when = models.CharField(max_length=16, choices=AssignmentWhen.choices, default=AssignmentWhen.NEW_LEAD)
    # [{"channel": "", "source": "", "city": "", "user_id": 5}]: the first rule whose non-empty conditions all match
    rules = models.JSONField(default=list, blank=True)
    last_user_id = models.BigIntegerField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)
