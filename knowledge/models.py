"""What the tenant taught the AI: questions and answers, a price list, delivery rules by city, terms.

Read by the brain as plain data (`knowledge.selectors.knowledge_for_brain` → `brain.knowledge.Knowledge`);
written by owners and heads through the API (`knowledge.services`)."""

from django.db import models


class QA(models.Model):
    """A question clients ask and its answer; `keywords` are the words that recognise it."""

    question = models.CharField(max_length=300)
    answer = models.TextField(max_length=2000)
    answer_en = models.TextField(max_length=2000, blank=True)
    keywords = models.JSONField(default=list, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return self.question


class PriceItem(models.Model):
    """One line of the price list: item, unit, a price or a range, currency."""

    item = models.CharField(max_length=200)
    unit = models.CharField(max_length=20, blank=True)
    price_from = models.DecimalField(max_digits=14, decimal_places=2, null=True, blank=True)
    price_to = models.DecimalField(max_digits=14, decimal_places=2, null=True, blank=True)
    currency = models.CharField(max_length=8, default="KZT")
    keywords = models.JSONField(default=list, blank=True)
    note = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return self.item


class DeliveryRule(models.Model):
    """What happens for a client's city; an empty city is the rule for every other city."""

    city = models.CharField(max_length=100, blank=True)
    text = models.TextField(max_length=1000)
    text_en = models.TextField(max_length=1000, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["id"]
        constraints = [models.UniqueConstraint(fields=["city"], name="knowledge_delivery_one_rule_per_city")]

    def __str__(self) -> str:
        return self.city or "*"


class Term(models.Model):
    """A term or condition (payment, warranty, timelines …) quoted when its keywords come up."""

    title = models.CharField(max_length=200)
    text = models.TextField(max_length=2000)
    text_en = models.TextField(max_length=2000, blank=True)
    keywords = models.JSONField(default=list, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return self.title
