"""The notifications API: each user reads and marks only their own notifications, sets their own preferences and
devices, gets their own Telegram code — never another user's, never from another tenant's host; bad input is a 400."""

from __future__ import annotations

import pytest
from django_tenants.utils import tenant_context

from notifications.models import Notification, NotificationPrefs, PushSubscription, TelegramLinkCode
from tenants.selectors import platform_vapid_keys
from tenants.services import tenant_config_import
from tests.conftest import user_of
from tests.notifications.pushservice import Browser

API = "/api/notifications/"


def note(tenant, role: str, title: str = "Новый лид", **fields) -> Notification:
    with tenant_context(tenant):
        return Notification.objects.create(user=user_of(tenant, role), kind="new_lead", title=title, **fields)


def test_a_user_lists_and_counts_only_their_own(tenant_a, client_for):
    mine = note(tenant_a, "manager", title="мой")
    note(tenant_a, "manager2", title="чужой")
    client = client_for(tenant_a, "manager")
    res = client.get(API)
    assert res.status_code == 200 and [n["title"] for n in res.json()] == ["мой"]
    assert res.json()[0]["id"] == mine.pk and res.json()[0]["read_at"] is None
    assert client.get(API + "unread/").json() == {"count": 1}


def test_marking_read_touches_only_the_users_own(tenant_a, client_for):
    mine = note(tenant_a, "manager")
    other = note(tenant_a, "manager2")
    client = client_for(tenant_a, "manager")
    res = client.post(API + "read/", {"ids": [mine.pk, other.pk]}, format="json")
    assert res.status_code == 200 and res.json() == {"marked": 1}
    with tenant_context(tenant_a):
        assert Notification.objects.get(pk=other.pk).read_at is None
    assert client.get(API + "?unread=true").json() == []
    note(tenant_a, "manager")
    note(tenant_a, "manager")
    assert client.post(API + "read/", {}, format="json").json() == {"marked": 2}
    assert client.get(API + "unread/").json() == {"count": 0}
    assert client_for(tenant_a, "manager2").get(API + "unread/").json() == {"count": 1}


@pytest.mark.parametrize("body", [{"ids": "1"}, {"ids": [0]}, {"ids": ["x"]}, {"ids": [2**70]}])
def test_bad_ids_are_400(tenant_a, client_for, body):
    assert client_for(tenant_a, "manager").post(API + "read/", body, format="json").status_code == 400


def test_another_tenants_user_sees_nothing_of_this_tenant(tenant_a, tenant_b, client_for):
    from tests.conftest import host_of

    alphas = note(tenant_a, "manager")
    beta = client_for(tenant_b, "manager")
    assert beta.get(API).json() == [] and beta.get(API + "unread/").json() == {"count": 0}
    assert beta.post(API + "read/", {"ids": [alphas.pk]}, format="json").json() == {"marked": 0}
    with tenant_context(tenant_a):
        assert Notification.objects.get(pk=alphas.pk).read_at is None
    beta.defaults["HTTP_HOST"] = host_of(tenant_a)  # beta's token on alpha's host
    assert beta.get(API).status_code in (401, 403)
    assert client_for(tenant_a).get(API).status_code in (401, 403)  # anonymous


def test_prefs_default_to_in_app_and_push_and_are_the_users_own(tenant_a, client_for):
    client = client_for(tenant_a, "manager")
    prefs = client.get(API + "prefs/").json()
    assert prefs["ways"]["new_lead"] == {"in_app": True, "push": True, "telegram": True}
    assert set(prefs["kinds"]) >= {"new_lead", "client_replied", "task_due"} and prefs["quiet_start"] is None
    res = client.put(API + "prefs/", {"ways": {"new_lead": {"push": False}}, "quiet_start": "22:00",
                                      "quiet_end": "08:00"}, format="json")
    assert res.status_code == 200, res.content
    assert res.json()["ways"]["new_lead"] == {"in_app": True, "push": False, "telegram": True}
    assert (res.json()["quiet_start"], res.json()["quiet_end"]) == ("22:00", "08:00")
    assert client.put(API + "prefs/", {"ways": {"client_replied": {"telegram": False}}},
                      format="json").json()["quiet_start"] == "22:00"  # untouched
    assert client_for(tenant_a, "manager2").get(API + "prefs/").json()["ways"]["new_lead"]["push"] is True
    cleared = client.put(API + "prefs/", {"quiet_start": None, "quiet_end": None}, format="json").json()
    assert cleared["quiet_start"] is None and cleared["ways"]["new_lead"]["push"] is False


@pytest.mark.parametrize("body", [
    {"ways": {"lottery": {"push": True}}},
    {"ways": {"new_lead": {"pigeon": True}}},
    {"ways": {"new_lead": {"push": "yes"}}},
    {"ways": []},
    {"quiet_start": "25:00", "quiet_end": "08:00"},
    {"quiet_start": "22:00", "quiet_end": None},
    {"quiet_start": 22},
])
def test_bad_prefs_are_400(tenant_a, client_for, body):
    res = client_for(tenant_a, "manager").put(API + "prefs/", body, format="json")
    assert res.status_code == 400 and res.json()["detail"]


def test_push_key_subscribe_and_unsubscribe_this_device(tenant_a, client_for):
    client = client_for(tenant_a, "manager")
    assert client.get(API + "push/key/").json() == {"public_key": platform_vapid_keys()[1]}
    device = Browser()
    body = {"endpoint": "https://push.example/abc", "keys": {"p256dh": device.p256dh, "auth": device.auth_b64}}
    assert client.post(API + "push/subscribe/", body, format="json").status_code == 201
    assert client.post(API + "push/subscribe/", body, format="json").status_code == 201  # again: still one
    with tenant_context(tenant_a):
        assert PushSubscription.objects.get().user == user_of(tenant_a, "manager")
    # Someone else cannot drop my device by naming its endpoint.
    other = client_for(tenant_a, "manager2").post(API + "push/unsubscribe/", {"endpoint": body["endpoint"]},
                                                  format="json")
    assert other.status_code == 204
    with tenant_context(tenant_a):
        assert PushSubscription.objects.count() == 1
    assert client.post(API + "push/unsubscribe/", {"endpoint": body["endpoint"]}, format="json").status_code == 204
    with tenant_context(tenant_a):
        assert PushSubscription.objects.count() == 0


@pytest.mark.parametrize("body", [
    {"endpoint": "ftp://push.example/x", "keys": {"p256dh": Browser().p256dh, "auth": "AAAAAAAAAAAAAAAAAAAAAA"}},
    # Our workers POST to the endpoint: nothing inside our network.
    {"endpoint": "http://push.example/x", "keys": {"p256dh": Browser().p256dh, "auth": "AAAAAAAAAAAAAAAAAAAAAA"}},
    {"endpoint": "https://127.0.0.1/x", "keys": {"p256dh": Browser().p256dh, "auth": "AAAAAAAAAAAAAAAAAAAAAA"}},
    {"endpoint": "https://[::1]:8000/x", "keys": {"p256dh": Browser().p256dh, "auth": "AAAAAAAAAAAAAAAAAAAAAA"}},
    {"endpoint": "https://169.254.169.254/x", "keys": {"p256dh": Browser().p256dh, "auth": "AAAAAAAAAAAAAAAAAAAAAA"}},
    {"endpoint": "https://localhost/x", "keys": {"p256dh": Browser().p256dh, "auth": "AAAAAAAAAAAAAAAAAAAAAA"}},
    {"endpoint": "https://push.example/x", "keys": {"p256dh": "short", "auth": "AAAAAAAAAAAAAAAAAAAAAA"}},
    {"endpoint": "https://push.example/x", "keys": {"p256dh": Browser().p256dh, "auth": "!!"}},
    {"endpoint": "https://push.example/x"},
    {"endpoint": "https://push.example/x", "keys": "k"},
])
def test_bad_subscriptions_are_400(tenant_a, client_for, body, settings):
    settings.WEBPUSH_ALLOW_LOCAL = False
    assert client_for(tenant_a, "manager").post(API + "push/subscribe/", body, format="json").status_code == 400


def test_a_telegram_code_needs_the_tenants_bot_and_is_the_users_own(tenant_a, client_for):
    client = client_for(tenant_a, "manager")
    res = client.post(API + "telegram/")
    assert res.status_code == 400 and "Telegram" in res.json()["detail"]
    tenant_config_import(tenant_a, {"channels": {"telegram": {"bot_token": "1:abc", "secret_token": "s",
                                                              "bot_username": "alpha_bot"}}})
    first = client.post(API + "telegram/").json()
    second = client.post(API + "telegram/").json()
    assert len(second["code"]) == 8 and second["bot_username"] == "alpha_bot"
    with tenant_context(tenant_a):
        # A new code replaces the old one.
        assert list(TelegramLinkCode.objects.values_list("code", flat=True)) == [second["code"]]
        assert first["code"] != second["code"] or TelegramLinkCode.objects.count() == 1
        NotificationPrefs.objects.update_or_create(user=user_of(tenant_a, "manager"),
                                                   defaults={"telegram_chat_id": 555})
    assert client.get(API + "prefs/").json()["telegram_linked"] is True
    assert client.delete(API + "telegram/").status_code == 204
    assert client.get(API + "prefs/").json()["telegram_linked"] is False


def test_quiet_hours_with_a_zone_suffix_are_read_as_the_tenants_wall_clock(tenant_a, client_for):
    res = client_for(tenant_a, "manager").put(API + "prefs/", {"quiet_start": "22:00:00Z", "quiet_end": "08:00+05:00"},
                                              format="json")
    assert res.status_code == 200, res.content
    assert (res.json()["quiet_start"], res.json()["quiet_end"]) == ("22:00", "08:00")


def test_unsubscribing_an_unknown_endpoint_is_no_error(tenant_a, client_for):
    res = client_for(tenant_a, "manager").post(API + "push/unsubscribe/", {"endpoint": "not a url"}, format="json")
    assert res.status_code == 204
