"""A manager's tasks on a lead: call the client back, hold the meeting, anything else a person must do."""

from django.conf import settings
from django.db import models


class TaskKind(models.TextChoices):
    CALL = "call", "Звонок"
    MEETING = "meeting", "Встреча"
    OTHER = "other", "Другое"


class TaskAuthor(models.TextChoices):
    AI = "ai", "AI"
    USER = "user", "Пользователь"


class Task(models.Model):
    lead = models.ForeignKey("leads.Lead", on_delete=models.CASCADE, related_name="tasks")
    kind = models.CharField(max_length=10, choices=TaskKind.choices, default=TaskKind.OTHER)
    title = models.CharField(max_length=200, blank=True)
    # The client's own words for the time ("завтра в 11"), kept beside the moment we read from them.
    note = models.CharField(max_length=200, blank=True)
    due_at = models.DateTimeField(db_index=True)
    # Whether the client named the time (False: "as soon as possible within working hours").
    due_named = models.BooleanField(default=True)
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="tasks"
    )
    done_at = models.DateTimeField(null=True, blank=True)
    done_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_by_kind = models.CharField(max_length=8, choices=TaskAuthor.choices, default=TaskAuthor.USER)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # The calendar event a meeting task stands for (one task per event).
    calendar_event_id = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    # When the due reminder went (task.due, once): set in the sweep's claim, cleared when the due time moves.
    reminded_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["due_at", "id"]
        indexes = [
            models.Index(fields=["assignee", "done_at", "due_at"], name="task_assignee_open"),
            models.Index(fields=["lead", "done_at"], name="task_lead_open"),
            models.Index(fields=["due_at"], name="task_due_unreminded",
                         condition=models.Q(done_at__isnull=True, reminded_at__isnull=True)),
        ]
        constraints = [
            # The AI keeps one open call task per lead: a second request moves its time instead of doubling it.
            models.UniqueConstraint(
                fields=["lead"],
                name="task_one_open_ai_call",
                condition=models.Q(kind="call", created_by_kind="ai", done_at__isnull=True),
            ),
            models.UniqueConstraint(
                fields=["lead", "calendar_event_id"],
                name="task_one_per_event",
                condition=~models.Q(calendar_event_id=""),
            ),
        ]

    def __str__(self) -> str:
        return self.title or f"{self.kind} {self.due_at:%Y-%m-%d %H:%M}"
