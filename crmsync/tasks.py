"""Celery tasks of the amoCRM sync: thin wrappers that run in the tenant's schema (tenant-schemas-celery) and retry
amoCRM's temporary failures with backoff and jitter. Their names are still `integrations.*`, as when they lived in
integrations: queued tasks (and any queue a deploy leaves behind) carry those names."""
from __future__ import annotations

import logging
import random

from celery import shared_task
from django.conf import settings
from django.db import connection

from crmsync.intake import amocrm_intake_failed, amocrm_intake_process
from crmsync.services import amocrm_write_back
from integrations.amocrm import AmoApiError
from tenants.services import health_record

log = logging.getLogger("buildcrm.amocrm")
MAX_TASK_RETRIES = 5


def _countdown(retries: int) -> float:
    base = getattr(settings, "AMOCRM_TASK_RETRY_SECONDS", 10.0)
    return min(random.uniform(base / 2, base * 1.5) * (2**retries), 900.0)


@shared_task(bind=True, name="integrations.amocrm_intake", acks_late=True, max_retries=MAX_TASK_RETRIES)
def amocrm_intake_task(self, inbound_event_id: int) -> str:
    try:
        return amocrm_intake_process(inbound_event_id=inbound_event_id)
    except AmoApiError as exc:  # only retryable ones reach here
        if self.request.retries < self.max_retries:
            log.warning("amocrm intake event=%s retry %s: %s", inbound_event_id, self.request.retries + 1, exc.detail)
            raise self.retry(countdown=_countdown(self.request.retries)) from None
        amocrm_intake_failed(inbound_event_id=inbound_event_id, detail=exc.detail)
        return "failed"


@shared_task(bind=True, name="integrations.amocrm_write_back", acks_late=True, max_retries=MAX_TASK_RETRIES)
def amocrm_write_back_task(self, lead_id: int, what: str, text: str = "") -> str:
    try:
        return amocrm_write_back(lead_id=lead_id, what=what, text=text)
    except AmoApiError as exc:
        if self.request.retries < self.max_retries:
            log.warning("lead=%s amocrm write-back %s retry %s: %s", lead_id, what, self.request.retries + 1,
                        exc.detail)
            raise self.retry(countdown=_countdown(self.request.retries)) from None
        health_record(tenant_id=connection.tenant.pk, error=f"amocrm write-back {what}: {exc.detail}",
                      source="amocrm")
        return "failed"
