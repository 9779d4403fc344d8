"""Meetings live in the tenant's Google Calendar (seed 000): we keep only the calendar event's id and link, plus
when the client's reminders went out (so each goes exactly once). The time, attendees and everything else are read
from the calendar when needed, so a meeting moved or cancelled there is moved or cancelled here too."""

from django.db import models


class Meeting(models.Model):
    lead = models.ForeignKey("leads.Lead", on_delete=models.CASCADE, related_name="meetings")
    event_id = models.CharField(max_length=200, unique=True)
    # The link the client joins by (Google Meet) or, without one, the event's page in the calendar.
    link = models.URLField(max_length=1000, blank=True)
    reminded_day_at = models.DateTimeField(null=True, blank=True)
    reminded_soon_at = models.DateTimeField(null=True, blank=True)
    # The meeting began, or vanished from the calendar: no more reminders.
    closed_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]
        indexes = [models.Index(fields=["closed_at"], name="meeting_open")]
