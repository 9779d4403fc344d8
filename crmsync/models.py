"""Rows of the amoCRM sync in the tenant schema."""
from django.db import models


class AmoLeadLink(models.Model):
    """Our lead ↔ an amoCRM lead it mirrors (a client may have several amoCRM deals). The unique pair is
    the intake's idempotency key: the same amoCRM lead arriving twice (webhook retries, add + status)
    finds this row and creates nothing."""

    lead = models.ForeignKey("leads.Lead", on_delete=models.CASCADE, related_name="amo_links")
    account_id = models.BigIntegerField()
    amo_lead_id = models.BigIntegerField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        db_table = "integrations_amoleadlink"  # moved from integrations (issue 13): the table and its rows stay
        constraints = [models.UniqueConstraint(fields=["account_id", "amo_lead_id"], name="uniq_amo_lead")]

    def __str__(self) -> str:
        return f"amo {self.account_id}/{self.amo_lead_id} → lead {self.lead_id}"
