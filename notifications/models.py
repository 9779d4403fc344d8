"""What a person is told (in the PWA, by Web Push, in Telegram), how they want to be told, and where to."""

from django.conf import settings
from django.db import models


class Kind(models.TextChoices):
    NEW_LEAD = "new_lead", "Новый лид"
    CLIENT_REPLIED = "client_replied", "Клиент ответил"
    CALL_REQUESTED = "call_requested", "Просит звонок"
    BECAME_HOT = "became_hot", "Лид стал горячим"
    NEEDS_HUMAN = "needs_human", "AI просит человека"
    MESSAGE_FAILED = "message_failed", "Сообщение не ушло"
    ASSIGNED = "assigned", "Лид назначен на вас"
    TASK_DUE = "task_due", "Срок задачи"


class Way(models.TextChoices):
    IN_APP = "in_app", "В приложении"
    PUSH = "push", "Push"
    TELEGRAM = "telegram", "Telegram"


class Notification(models.Model):
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notifications")
    kind = models.CharField(max_length=20, choices=Kind.choices)
    # An id, not a foreign key: a notification outlives a deleted lead (and the PWA just finds nothing to open).
    lead_id = models.BigIntegerField(null=True, blank=True)
    title = models.CharField(max_length=200)
    body = models.CharField(max_length=500, blank=True)
    url = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    read_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["user", "read_at", "-created_at"], name="notif_user_unread")]

    def __str__(self) -> str:
        return f"{self.kind} → {self.user_id}: {self.title}"


class NotificationPrefs(models.Model):
    """One row per user, made on first read. `ways`: {kind: {way: bool}}; a missing entry takes the default (in-app
    and push on, Telegram on once linked)."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notification_prefs")
    ways = models.JSONField(default=dict, blank=True)
    # Quiet hours in the tenant's zone: pushes and Telegram held (in-app still recorded). Both empty: none.
    quiet_start = models.TimeField(null=True, blank=True)
    quiet_end = models.TimeField(null=True, blank=True)
    telegram_chat_id = models.BigIntegerField(null=True, blank=True)

    def __str__(self) -> str:
        return f"prefs of {self.user_id}"


class PushSubscription(models.Model):
    """One browser/device of a user, as its pushManager.subscribe() gave it."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="push_subscriptions")
    endpoint = models.URLField(max_length=1000, unique=True)
    p256dh = models.CharField(max_length=200)
    auth = models.CharField(max_length=100)
    user_agent = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    failures = models.PositiveIntegerField(default=0)

    def __str__(self) -> str:
        return f"push of {self.user_id}: {self.endpoint[:60]}"


class TelegramLinkCode(models.Model):
    """A one-time code the user sends to the tenant's bot to link their chat (10 minutes, single use)."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    code = models.CharField(max_length=16, unique=True)
    expires_at = models.DateTimeField()
    used_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"telegram code of {self.user_id}"


class HeldDelivery(models.Model):
    """A push or Telegram message that fell in the user's quiet hours: sent when they end (several as one digest)."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    push = models.JSONField(help_text="The push as the service worker reads it (notifications.services.Push).")
    ways = models.JSONField(default=list, help_text='Which ways were held: ["push", "telegram"].')
    release_at = models.DateTimeField(db_index=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["release_at", "id"]

    def __str__(self) -> str:
        return f"held for {self.user_id} until {self.release_at:%Y-%m-%d %H:%M}"
