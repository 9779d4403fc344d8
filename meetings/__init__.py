"""Meetings: the AI books them in the tenant's Google Calendar (free slots, booking, the lead's timeline).
integrations.google_calendar is the HTTP client it uses."""
