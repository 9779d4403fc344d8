from django.db import models


class AiTurn(models.Model):
    """One run of the AI manager for a lead: which brain answered, what it cost, what went wrong."""

    lead = models.ForeignKey("leads.Lead", on_delete=models.CASCADE, related_name="ai_turns")
    # The client message that triggered the run (the newest one it answers), or null for first contact.
    message_id = models.BigIntegerField(null=True, blank=True)
    kind = models.CharField(max_length=16, default="reply")  # reply | first_contact | followup
    brain = models.CharField(max_length=16, blank=True)  # offline | openai | fallback (offline after LLM failure)
    status = models.CharField(max_length=10)  # ok | skipped | superseded | failed | timeout (over budget)
    detail = models.CharField(max_length=300, blank=True)  # why skipped / the error
    tool_calls = models.JSONField(default=list, blank=True)  # [{"name", "arguments", "ok"}]
    prompt_tokens = models.PositiveIntegerField(default=0)  # approximate (chars / 4) size of the prompt
    completion_tokens = models.PositiveIntegerField(default=0)
    llm_calls = models.PositiveSmallIntegerField(default=0)
    llm_attempts = models.PositiveSmallIntegerField(default=0)
    latency_ms = models.PositiveIntegerField(default=0)  # turn start → reply queued
    reply_ids = models.JSONField(default=list, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-id"]
        indexes = [models.Index(fields=["lead", "-id"], name="aiturn_lead_id")]
