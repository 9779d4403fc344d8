"""Notifications in the browser (issue 16): an event on the server rings the bell live (the real worker, the
websocket), the list opens the lead; the service worker shows a push the push service delivers and a click opens the
lead; Account lists the events × ways and keeps the choices."""

from __future__ import annotations

import json

import pytest
from django_tenants.utils import tenant_context
from playwright.sync_api import expect

from core.events import emit
from tests.browser.conftest import shot
from tests.browser.helpers import lead_make

pytestmark = [pytest.mark.browser, pytest.mark.live]


def became_hot(tenant, lead_id: int) -> None:
    from leads.models import Lead

    with tenant_context(tenant):  # autocommit: the listener queues the task at once, the worker notifies
        emit("lead.became_hot", lead_id=lead_id, assignee_id=Lead.objects.get(pk=lead_id).assignee_id)


@pytest.mark.parametrize("phone", [False, True], ids=["desktop", "phone"])
def test_the_bell_rings_live_and_the_list_opens_the_lead(browser, live_tenant, worker, phone):
    # the head's own lead (an unassigned hot lead would first go to a manager: leads.assignment)
    lead_id = lead_make(live_tenant, name="Горячий Ерлан", kind="in_dialog", temperature="hot", assignee="head")
    page = browser.page(live_tenant, role="head", phone=phone)
    expect(page.get_by_test_id("notif-bell")).to_be_visible()
    expect(page.get_by_test_id("notif-count")).to_have_count(0)
    became_hot(live_tenant, lead_id)
    expect(page.get_by_test_id("notif-count")).to_have_text("1")
    page.get_by_test_id("notif-bell").click()
    item = page.locator("[data-testid^=notif-item-]").first
    expect(item).to_contain_text("Лид стал горячим")
    expect(item).to_contain_text("Горячий Ерлан")
    assert page.evaluate("document.documentElement.scrollWidth") <= page.viewport_size["width"]
    shot(page, f"notifications-bell-{'phone' if phone else 'desktop'}")
    item.click()
    page.wait_for_url(f"**/leads/{lead_id}")
    expect(page.get_by_test_id("lead-panel")).to_be_visible()
    expect(page.get_by_test_id("notif-count")).to_have_count(0)  # opened: read
    # A manager who may not see it got nothing; the owner got their own.
    manager = browser.page(live_tenant, role="manager")
    manager.get_by_test_id("notif-bell").click()
    expect(manager.get_by_test_id("notif-empty")).to_be_visible()


def test_account_sets_which_events_come_which_way(browser, live_tenant):
    page = browser.page(live_tenant, role="manager", path="/account", live=False, phone=True)
    settings = page.get_by_test_id("notif-settings")
    expect(settings).to_be_visible()
    box = page.get_by_test_id("notif-way-new_lead-push")
    expect(box).to_be_checked()
    with page.expect_response(lambda r: r.url.endswith("/api/notifications/prefs/") and r.request.method == "PUT"):
        box.uncheck()
    expect(box).not_to_be_checked()
    page.get_by_test_id("notif-quiet-start").fill("22:00")
    page.get_by_test_id("notif-quiet-end").fill("08:00")
    with page.expect_response(lambda r: r.url.endswith("/api/notifications/prefs/") and r.request.method == "PUT"):
        page.get_by_test_id("notif-quiet-save").click()
    page.reload()
    expect(page.get_by_test_id("notif-way-new_lead-push")).not_to_be_checked()
    expect(page.get_by_test_id("notif-way-new_lead-in_app")).to_be_checked()
    expect(page.get_by_test_id("notif-quiet-start")).to_have_value("22:00")
    assert page.evaluate("document.documentElement.scrollWidth") <= page.viewport_size["width"]
    shot(page, "notifications-account-phone")


def test_a_push_goes_from_the_event_through_the_push_service_to_the_service_worker(browser, live_tenant, live_stack,
                                                                                  worker):
    """The whole way of a push: the event → the real worker encrypts and signs it → the push service (a local stand-in
    that checks VAPID and decrypts with the device's key) → the PWA's service worker shows it → its click opens the
    lead. Headless Chromium cannot subscribe itself (pushManager.subscribe answers "AbortError: Registration failed -
    permission denied": it has no connection to Google's push service), so the device's keys are the stand-in's, and
    the push service's delivery to the browser is DevTools' deliverPushMessage with what the stand-in decrypted."""
    from notifications.services import push_subscribe
    from tests.conftest import user_of
    from tests.notifications.pushservice import PushService

    lead_id = lead_make(live_tenant, name="Push Айгуль", assignee="owner")
    context = browser.chromium.new_context(viewport={"width": 390, "height": 844}, locale="ru-RU",
                                           service_workers="allow")
    browser.contexts.append(context)
    origin = live_stack.url(live_tenant, "").rstrip("/")
    context.grant_permissions(["notifications"])
    page = context.new_page()
    browser.login(page, live_tenant, "owner")
    page.goto(live_stack.url(live_tenant, "/leads"))
    assert page.evaluate("async () => !!(await navigator.serviceWorker.ready).active && 'PushManager' in window")

    service = PushService()
    try:
        endpoint, device = service.subscribe("chromium")
        with tenant_context(live_tenant):
            push_subscribe(user=user_of(live_tenant, "owner"), endpoint=endpoint, p256dh=device.p256dh,
                           auth=device.auth_b64)
        became_hot(live_tenant, lead_id)
        (received,) = service.wait_for(1, timeout=20)
    finally:
        service.close()
    assert received.problem == "" and received.payload["url"] == f"/leads/{lead_id}"

    cdp = context.new_cdp_session(page)
    registrations: list = []
    cdp.on("ServiceWorker.workerRegistrationUpdated", lambda e: registrations.extend(e["registrations"]))
    cdp.send("ServiceWorker.enable")
    page.wait_for_timeout(300)
    (registration,) = [r for r in registrations if r["scopeURL"].startswith(origin) and not r["isDeleted"]]
    cdp.send("ServiceWorker.deliverPushMessage", {"origin": origin + "/", "registrationId":
                                                  registration["registrationId"], "data": json.dumps(received.payload)})
    shown = page.wait_for_function("""async () => {
        const list = await (await navigator.serviceWorker.ready).getNotifications();
        return list.length ? list.map((n) => ({title: n.title, body: n.body, tag: n.tag, url: n.data.url})) : null;
    }""", polling=200, timeout=15_000).json_value()
    assert shown == [{"title": "Лид стал горячим", "body": "Push Айгуль", "tag": f"became_hot:{lead_id}",
                      "url": f"/leads/{lead_id}"}]
    # The click: the worker's handler closes the notification and hands its url to openLead, run here in the worker
    # (a script-made notificationclick may not waitUntil) — the open window goes to the lead.
    (sw,) = [w for w in context.service_workers if w.url.startswith(origin)]
    assert sw.evaluate(f"self.openLead('{shown[0]['url']}')") == "focused"
    page.wait_for_url(f"**/leads/{lead_id}")
    expect(page.get_by_test_id("lead-panel")).to_be_visible()
