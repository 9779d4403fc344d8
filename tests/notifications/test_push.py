"""Web Push: the platform's VAPID keys (setup_platform, once), a device's subscription, and a notification encrypted
for it and signed with VAPID, delivered to the browser's push service (a local stand-in that verifies the JWT and
decrypts the body with the device's key). 404/410 forget the device; a 5xx is retried with backoff; quiet hours and
the user's choices hold pushes back."""

from __future__ import annotations

import logging
from datetime import time
from zoneinfo import ZoneInfo

import pytest
from django.conf import settings
from django.core.management import call_command
from django_tenants.utils import schema_context, tenant_context

from core.events import emit
from notifications import services
from notifications.models import PushSubscription
from tenants.models import PlatformSecret
from tenants.selectors import VAPID_SECRET, platform_vapid_keys
from tests.conftest import user_of
from tests.leads.conftest import make_lead


def subscribe(tenant, user, push_service, name: str) -> PushSubscription:
    endpoint, browser = push_service.subscribe(name)
    with tenant_context(tenant):
        return services.push_subscribe(user=user, endpoint=endpoint, p256dh=browser.p256dh, auth=browser.auth_b64)


@pytest.fixture
def hot(tenant_a, eager, django_capture_on_commit_callbacks):
    """hot(lead): the lead became hot, committed."""
    def run(lead):
        with tenant_context(tenant_a), django_capture_on_commit_callbacks(execute=True):
            emit("lead.became_hot", lead_id=lead.pk, assignee_id=lead.assignee_id)
    return run


def test_setup_platform_makes_the_vapid_pair_once_and_keeps_it(db):
    before = platform_vapid_keys()
    assert before is not None and len(before[1]) == 87  # base64url of a 65-byte uncompressed P-256 point
    with schema_context("public"):
        stored = PlatformSecret.objects.get(name=VAPID_SECRET)
        assert stored.value.startswith("enc:v1:") and before[0] not in stored.value  # encrypted at rest
    call_command("setup_platform", verbosity=0)
    with schema_context("public"):
        assert PlatformSecret.objects.filter(name=VAPID_SECRET).count() == 1
        assert PlatformSecret.objects.get(name=VAPID_SECRET).public == before[1]


def test_a_notification_reaches_every_device_of_the_user_signed_and_encrypted(tenant_a, hot, push_service):
    manager = user_of(tenant_a, "manager")
    subscribe(tenant_a, manager, push_service, "phone")
    subscribe(tenant_a, manager, push_service, "laptop")
    subscribe(tenant_a, user_of(tenant_a, "manager2"), push_service, "someone-else")
    lead = make_lead(tenant_a, name="Горячий", assignee=manager)
    hot(lead)
    received = push_service.wait_for(2)
    assert sorted(r.path for r in received) == ["/push/laptop", "/push/phone"]
    for push in received:
        assert push.problem == ""
        assert push.vapid_key == platform_vapid_keys()[1]
        assert push.claims["sub"] == settings.WEBPUSH_SUBJECT and push.claims["aud"] == push_service.url
        assert push.headers["urgency"] == "high"
        assert push.payload == {"title": "Лид стал горячим", "body": "Горячий", "url": f"/leads/{lead.pk}",
                                "tag": f"became_hot:{lead.pk}", "kind": "became_hot"}


def test_a_gone_subscription_is_removed_and_the_others_still_get_it(tenant_a, hot, push_service):
    manager = user_of(tenant_a, "manager")
    gone = subscribe(tenant_a, manager, push_service, "gone")
    kept = subscribe(tenant_a, manager, push_service, "kept")
    push_service.statuses = [410]  # the first POST (the older subscription goes first)
    hot(make_lead(tenant_a, assignee=manager))
    assert len(push_service.wait_for(2)) == 2
    with tenant_context(tenant_a):
        assert list(PushSubscription.objects.filter(user=manager).values_list("pk", flat=True)) == [kept.pk]
        assert not PushSubscription.objects.filter(pk=gone.pk).exists()


def test_a_5xx_is_retried_and_the_last_failure_is_logged(tenant_a, hot, push_service, caplog):
    manager = user_of(tenant_a, "manager")
    device = subscribe(tenant_a, manager, push_service, "flaky")
    push_service.statuses = [503, 500]
    with caplog.at_level(logging.INFO, logger="buildcrm.notifications"):
        hot(make_lead(tenant_a, assignee=manager))
    received = push_service.wait_for(3)
    assert len(received) == 3 and all(r.problem == "" for r in received)
    assert any("attempt 1 failed, retrying" in r.getMessage() for r in caplog.records)
    assert any("delivered attempt=3" in r.getMessage() for r in caplog.records)
    with tenant_context(tenant_a):
        assert PushSubscription.objects.get(pk=device.pk).failures == 0

    push_service.statuses = [502] * 4
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="buildcrm.notifications"):
        hot(make_lead(tenant_a, assignee=manager))
    assert len(push_service.wait_for(7)) == 7  # 4 attempts in all, then it stops
    assert any("failed for good after 4 attempts" in r.getMessage() and r.levelname == "ERROR"
               for r in caplog.records)
    with tenant_context(tenant_a):
        assert PushSubscription.objects.filter(pk=device.pk).exists()  # a 5xx is not a gone device


def test_quiet_hours_hold_pushes_but_record_the_notification(tenant_a, hot, push_service):
    from notifications.models import Notification

    manager = user_of(tenant_a, "manager")
    subscribe(tenant_a, manager, push_service, "sleeping")
    with tenant_context(tenant_a):
        services.prefs_update(user=manager, quiet_start=time(0, 0), quiet_end=time(23, 59))
    lead = make_lead(tenant_a, assignee=manager)
    hot(lead)
    with tenant_context(tenant_a):
        assert Notification.objects.filter(user=manager, lead_id=lead.pk).count() == 1
    assert push_service.received == []


def test_push_off_for_one_kind_holds_only_that_kind(tenant_a, eager, django_capture_on_commit_callbacks,
                                                    push_service):
    manager = user_of(tenant_a, "manager")
    subscribe(tenant_a, manager, push_service, "picky")
    with tenant_context(tenant_a):
        services.prefs_update(user=manager, ways={"became_hot": {"push": False}})
    lead = make_lead(tenant_a, assignee=manager)
    with tenant_context(tenant_a), django_capture_on_commit_callbacks(execute=True):
        emit("lead.became_hot", lead_id=lead.pk, assignee_id=manager.pk)
        emit("lead.needs_human", lead_id=lead.pk, reason="")
    (push,) = push_service.wait_for(1)
    assert push.payload["kind"] == "needs_human"


def test_what_quiet_hours_held_goes_once_they_end_as_one_digest(tenant_a, hot, push_service):
    from datetime import UTC, datetime, timedelta

    from notifications.models import HeldDelivery

    manager = user_of(tenant_a, "manager")
    subscribe(tenant_a, manager, push_service, "night")
    with tenant_context(tenant_a):
        services.prefs_update(user=manager, quiet_start=time(0, 0), quiet_end=time(23, 59))
    first, second = make_lead(tenant_a, assignee=manager), make_lead(tenant_a, assignee=manager)
    hot(first)
    hot(second)
    assert push_service.received == []
    with tenant_context(tenant_a):
        (release_at,) = set(HeldDelivery.objects.values_list("release_at", flat=True))
        # 23:59 in the tenant's zone, today or tomorrow: the end of the quiet hours we are in.
        local = release_at.astimezone(ZoneInfo(tenant_a.config["timezone"]))
        assert (local.hour, local.minute) == (23, 59) and release_at > datetime.now(UTC)
        assert services.held_release(now=release_at - timedelta(seconds=1)) == 0
        assert services.held_release(now=release_at) == 1
        assert services.held_release(now=release_at) == 0  # gone once sent
    (digest,) = push_service.wait_for(1)
    assert digest.problem == "" and digest.payload["title"] == "Уведомлений за тихие часы: 2"
    assert digest.payload["url"] == "/" and digest.payload["body"] == "Лид стал горячим"


def test_a_single_held_notification_goes_as_itself(tenant_a, hot, push_service):
    from notifications.models import HeldDelivery

    manager = user_of(tenant_a, "manager")
    subscribe(tenant_a, manager, push_service, "night1")
    with tenant_context(tenant_a):
        services.prefs_update(user=manager, quiet_start=time(0, 0), quiet_end=time(23, 59))
    lead = make_lead(tenant_a, name="Ночной", assignee=manager)
    hot(lead)
    with tenant_context(tenant_a):
        services.held_release(now=HeldDelivery.objects.get().release_at)
    (push,) = push_service.wait_for(1)
    assert push.payload["url"] == f"/leads/{lead.pk}" and push.payload["body"] == "Ночной"
