from django.db import models


class FollowUpStatus(models.TextChoices):
    PENDING = "pending", "Ожидает"
    SENT = "sent", "Отправлен"
    CANCELLED = "cancelled", "Отменён"
    SKIPPED = "skipped", "Пропущен"


class FollowUp(models.Model):
    """A touch due at a time: swept every few seconds and claimed exactly once (never a long ETA task)."""

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

    class Meta:
        ordering = ["due_at", "id"]
        indexes = [models.Index(fields=["status", "due_at"], name="followup_due")]
