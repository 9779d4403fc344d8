from django.db import models


class FollowUpStatus(models.TextChoices):
    PENDING = "pending", "Ожидает"
    CLAIMED = "claimed", "Отправляется"
    SENT = "sent", "Отправлен"
    CANCELLED = "cancelled", "Отменён"
    SKIPPED = "skipped", "Пропущен"


class FollowUpKind(models.TextChoices):
    FOLLOWUP = "followup", "Дожим"
    REENGAGEMENT = "reengagement", "Реактивация"
    ONBOARDING = "onboarding", "Онбординг"


OPEN_STATUSES = (FollowUpStatus.PENDING, FollowUpStatus.CLAIMED)


class FollowUp(models.Model):
    """A touch due at a time: swept every few seconds and claimed exactly once (never a long ETA task).

    A sweeper claims due rows in one conditional UPDATE (status pending → claimed with its own claim token),
    then sends them a chunk at a time, flipping claimed → sent only while the token is still its own."""

    lead = models.ForeignKey("leads.Lead", on_delete=models.CASCADE, related_name="followups")
    kind = models.CharField(max_length=20, default="followup")  # followup | reengagement | onboarding
    step = models.PositiveSmallIntegerField(default=0)
    text = models.TextField(blank=True)
    content_id = models.PositiveIntegerField(null=True, blank=True)
    due_at = models.DateTimeField()
    status = models.CharField(max_length=10, choices=FollowUpStatus.choices, default=FollowUpStatus.PENDING)
    reason = models.CharField(max_length=200, blank=True)
    message = models.ForeignKey("conversations.Message", null=True, blank=True, on_delete=models.SET_NULL)
    answered = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)
    done_at = models.DateTimeField(null=True, blank=True)
    # The step gap: never closer than this to our previous message (minutes).
    gap_minutes = models.FloatField(default=0)
    # The due time first planned, before quiet hours or the gap moved it (shown on the card).
    planned_at = models.DateTimeField(null=True, blank=True)
    claim_token = models.UUIDField(null=True, blank=True)
    claimed_at = models.DateTimeField(null=True, blank=True)
    campaign = models.CharField(max_length=64, blank=True)
    meta = models.JSONField(default=dict, blank=True)
    # Sends of this row that raised; after a few it is skipped with the error (followups.services._send_failed).
    send_failures = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["due_at", "id"]
        indexes = [
            models.Index(fields=["status", "due_at"], name="followup_due"),
            models.Index(fields=["lead", "status"], name="followup_lead_status"),
        ]
        constraints = [
            # One open row per lead, chain and step: concurrent schedulers cannot double a step.
            models.UniqueConstraint(fields=["lead", "kind", "step"], name="followup_one_open_step",
                                    condition=models.Q(status__in=["pending", "claimed"])),
        ]


class ContentType(models.TextChoices):
    TEXT = "text", "Текст"
    IMAGE = "image", "Изображение"
    ALBUM = "album", "Альбом"
    VIDEO = "video", "Видео"
    DOCUMENT = "document", "Документ"
    LINK = "link", "Ссылка"
    VOICE = "voice", "Голосовое"


class Content(models.Model):
    """An item of the tenant's content library (catalogue, case study, price list, guide...)."""

    type = models.CharField(max_length=10, choices=ContentType.choices, default=ContentType.TEXT)
    title = models.CharField(max_length=200)
    text = models.TextField(blank=True)
    url = models.URLField(max_length=1000, blank=True)
    items = models.JSONField(default=list, blank=True)  # album: [{"url", "caption"}]
    tags = models.JSONField(default=list, blank=True)
    stages = models.JSONField(default=list, blank=True)  # stage kinds it suits; empty = any
    temperatures = models.JSONField(default=list, blank=True)  # hot | warm | cold; empty = any
    language = models.CharField(max_length=8, blank=True)  # empty = any
    active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return self.title


class ContentDelivery(models.Model):
    """A content item a lead received: never sent to the same lead twice."""

    lead = models.ForeignKey("leads.Lead", on_delete=models.CASCADE, related_name="content_deliveries")
    content = models.ForeignKey(Content, on_delete=models.CASCADE, related_name="deliveries")
    message = models.ForeignKey("conversations.Message", null=True, blank=True, on_delete=models.SET_NULL)
    purpose = models.CharField(max_length=20, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]
        constraints = [models.UniqueConstraint(fields=["lead", "content"], name="content_once_per_lead")]
