"""Meetings in the tenant's Google Calendar (meetings.services) and the admin's OAuth consent flow,
against the Google stand-in (token endpoint + Calendar v3), exact requests asserted."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime, time, timedelta
from urllib.parse import parse_qs, urlsplit
from zoneinfo import ZoneInfo

import pytest
from django.conf import settings
from django.contrib.messages import get_messages
from django.test import Client
from django.utils import timezone
from django_tenants.utils import schema_context, tenant_context

from crmsync.models import AmoLeadLink
from integrations.google_calendar import SCOPE
from leads import services as lead_services
from leads.models import LeadEvent
from meetings.models import Meeting
from meetings.services import CalendarUnavailable, SlotTaken, calendar_availability, calendar_book
from tenants.models import Tenant, TenantHealth
from tenants.services import tenant_config_get, tenant_config_import
from tests.integrations.gstandin import AmoStandin, GoogleStandin

TZ = "Asia/Almaty"
ZONE = ZoneInfo(TZ)
RU_WEEKDAYS = ("в понедельник", "во вторник", "в среду", "в четверг", "в пятницу")
RU_MONTHS = ("января", "февраля", "марта", "апреля", "мая", "июня", "июля", "августа", "сентября", "октября",
             "ноября", "декабря")


@pytest.fixture
def google() -> Iterator[GoogleStandin]:
    server = GoogleStandin().start()
    yield server
    server.stop()


def google_settings(google: GoogleStandin, **extra) -> dict:
    section = {"api_url": f"{google.url}/", "token_uri": f"{google.url}/token", "auth_uri": f"{google.url}/auth",
               "calendar_id": "primary", "client_id": google.client_id, "client_secret": google.client_secret,
               "refresh_token": "g-refresh-ok", "meeting_minutes": 30,
               "working_hours": {"start": "10:00", "end": "19:00"}}
    section.update(extra)
    return section


@pytest.fixture
def alpha(tenant_a, google):
    tenant_config_import(tenant_a, {"timezone": TZ, "google_calendar": google_settings(google)})
    tenant_a.refresh_from_db()
    return tenant_a


@pytest.fixture
def lead(alpha):
    with tenant_context(alpha):
        found, _ = lead_services.lead_for_inbound(provider="sandbox", identity="77011112233", phone="77011112233",
                                                  name="Айгуль")
        lead_services.lead_update(lead=found, actor=lead_services.SYSTEM, source_info="Дом 10x12, Алматы")
        return found


def next_workday() -> date:
    """The first Monday–Friday after today in the tenant's zone (so the working hours are whole)."""
    day = timezone.now().astimezone(ZONE).date() + timedelta(days=1)
    while day.isoweekday() > 5:
        day += timedelta(days=1)
    return day


def day_words(day: date) -> str:
    delta = (day - timezone.now().astimezone(ZONE).date()).days
    if delta == 1:
        return "завтра"
    if delta == 2:
        return "послезавтра"
    return f"{RU_WEEKDAYS[day.weekday()]}, {day.day} {RU_MONTHS[day.month - 1]},"


def at(day: date, hh: int, mm: int = 0) -> datetime:
    return datetime.combine(day, time(hh, mm), tzinfo=ZONE)


def calendar_requests(google: GoogleStandin) -> list[tuple[str, str]]:
    return [(r.method, r.path) for r in google.requests]


def health(tenant) -> TenantHealth:
    return TenantHealth.objects.get(tenant=tenant)


# --- availability ----------------------------------------------------------------------------------


def test_availability_offers_slots_inside_working_hours_in_the_tenant_zone(alpha, google, lead):
    day = next_workday()
    google.busy.append((at(day, 10), at(day, 11)))  # the morning is partly taken
    with tenant_context(alpha):
        found = calendar_availability(lead=lead, date_from=day, date_to=day)
    assert found["slots"] == [at(day, 11).isoformat(), at(day, 14).isoformat(), at(day, 17).isoformat()]
    assert all(s.endswith("+05:00") for s in found["slots"])
    assert found["text"] == f"{day_words(day)} в 11:00 или в 14:00 или в 17:00"
    assert calendar_requests(google) == [("POST", "/token"), ("POST", "/calendar/v3/freeBusy")]
    token = google.requests[0].form()
    assert (token["grant_type"], token["refresh_token"], token["client_id"]) == (
        "refresh_token", "g-refresh-ok", google.client_id)
    assert google.requests[1].json() == {
        "timeMin": at(day, 0).isoformat(), "timeMax": at(day + timedelta(days=1), 0).isoformat(),
        "timeZone": TZ, "items": [{"id": "primary"}]}
    assert google.requests[1].headers["authorization"].startswith("Bearer g-access-")


def test_availability_over_several_days_names_the_days(alpha, google, lead):
    day = next_workday()
    google.busy.append((at(day, 0), at(day + timedelta(days=1), 0)))  # the first day is full
    with tenant_context(alpha):
        found = calendar_availability(lead=lead, date_from=day.isoformat(), date_to=(day + timedelta(days=7)))
    second = day + timedelta(days=1)
    while second.isoweekday() > 5:
        second += timedelta(days=1)
    assert found["slots"] == [at(second, 10).isoformat(), at(second, 13).isoformat(), at(second, 16).isoformat()]
    assert found["text"] == f"{day_words(second)} в 10:00 или в 13:00 или в 16:00"
    assert google.requests[-1].json()["timeMax"] == at(day + timedelta(days=8), 0).isoformat()


def test_availability_on_a_weekend_only_is_empty_without_asking_google(alpha, google, lead):
    day = timezone.now().astimezone(ZONE).date() + timedelta(days=1)
    while day.isoweekday() != 6:
        day += timedelta(days=1)
    with tenant_context(alpha):
        assert calendar_availability(lead=lead, date_from=day, date_to=day + timedelta(days=1)) == {
            "slots": [], "text": ""}
    assert google.requests == []


# --- booking ---------------------------------------------------------------------------------------


def test_booking_invites_the_lead_with_meet_and_keeps_the_event_in_the_timeline(alpha, google, lead):
    day = next_workday()
    with tenant_context(alpha):
        booked = calendar_book(lead=lead, start=at(day, 11), duration_minutes=None, email="aigul@stroydom.kz",
                               summary=None)
    assert calendar_requests(google) == [("POST", "/token"), ("POST", "/calendar/v3/freeBusy"),
                                         ("POST", "/calendar/v3/calendars/primary/events")]
    freebusy, insert = google.requests[1], google.requests[2]
    assert freebusy.json()["timeMin"] == at(day, 11).isoformat()
    assert freebusy.json()["timeMax"] == at(day, 11, 30).isoformat()
    assert insert.query["sendUpdates"] == ["all"] and insert.query["conferenceDataVersion"] == ["1"]
    body = insert.json()
    assert body["attendees"] == [{"email": "aigul@stroydom.kz"}]
    assert body["start"] == {"dateTime": at(day, 11).isoformat(), "timeZone": TZ}
    assert body["end"] == {"dateTime": at(day, 11, 30).isoformat(), "timeZone": TZ}
    assert body["conferenceData"]["createRequest"]["conferenceSolutionKey"] == {"type": "hangoutsMeet"}
    assert body["summary"] == "Встреча: Айгуль"
    assert "+77011112233" in body["description"] and "Дом 10x12, Алматы" in body["description"]
    event = google.events[booked["event_id"]]
    assert booked["meet_link"] == event["hangoutLink"] and booked["html_link"] == event["htmlLink"]
    assert booked["start"] == at(day, 11).isoformat()
    assert booked["text"] == (f"Готово, встреча назначена на {day_words(day)} в 11:00. Ссылка на видеозвонок: "
                              f"{event['hangoutLink']} Приглашение отправлено на aigul@stroydom.kz.")
    with tenant_context(alpha):
        (timeline,) = LeadEvent.objects.filter(lead=lead, kind="meeting_booked")
        # Seed 000: the calendar keeps the meeting; we keep its id and link only (timeline, memory, Meeting row).
        assert timeline.after == {"event_id": booked["event_id"], "link": event["hangoutLink"]}
        (meeting,) = Meeting.objects.filter(lead=lead)
        assert (meeting.event_id, meeting.link) == (booked["event_id"], event["hangoutLink"])
        lead.refresh_from_db()
        assert lead.email == "aigul@stroydom.kz"


def test_booking_the_same_slot_again_returns_the_same_event(alpha, google, lead):
    day = next_workday()
    with tenant_context(alpha):
        one = calendar_book(lead=lead, start=at(day, 15), duration_minutes=60, email=None, summary="Замер")
        two = calendar_book(lead=lead, start=at(day, 15).replace(tzinfo=None), duration_minutes=60, email=None,
                            summary="Замер")
    assert one["event_id"] == two["event_id"] and len(google.events) == 1
    assert "attendees" not in google.events[one["event_id"]]  # no e-mail known: nobody to invite
    assert one["end"] == at(day, 16).isoformat()


def test_slot_taken_meanwhile_gives_slot_taken_with_alternatives(alpha, google, lead):
    day = next_workday()
    google.busy.append((at(day, 11), at(day, 12)))  # someone booked it after we offered it
    with tenant_context(alpha), pytest.raises(SlotTaken) as err:
        calendar_book(lead=lead, start=at(day, 11), duration_minutes=30, email="a@b.kz", summary=None)
    assert "busy" in err.value.detail
    assert 2 <= len(err.value.alternatives) <= 3
    assert at(day, 11).isoformat() not in err.value.alternatives
    assert err.value.alternatives_text.startswith(day_words(day) + " в 10:00")
    assert google.events == {}
    with tenant_context(alpha):
        assert not LeadEvent.objects.filter(lead=lead, kind="meeting_booked").exists()


def test_booking_outside_working_hours_offers_alternatives(alpha, google, lead):
    day = next_workday()
    with tenant_context(alpha), pytest.raises(SlotTaken) as err:
        calendar_book(lead=lead, start=at(day, 21), duration_minutes=None, email=None, summary=None)
    assert "outside working hours" in err.value.detail and err.value.alternatives_text
    assert ("POST", "/calendar/v3/calendars/primary/events") not in calendar_requests(google)


def test_invalid_grant_is_calendar_unavailable_and_a_health_error(alpha, google, lead):
    google.refresh_tokens.clear()  # the owner revoked the access
    with tenant_context(alpha), pytest.raises(CalendarUnavailable) as err:
        calendar_availability(lead=lead, date_from=next_workday(), date_to=next_workday())
    assert "invalid_grant" in err.value.detail
    assert health(alpha).last_error_source == "google_calendar" and "invalid_grant" in health(alpha).last_error
    with tenant_context(alpha), pytest.raises(CalendarUnavailable):
        calendar_book(lead=lead, start=at(next_workday(), 11), duration_minutes=None, email=None, summary=None)


def test_403_is_calendar_unavailable_and_a_health_error(alpha, google, lead):
    google.script(403, {"error": {"code": 403, "message": "The caller does not have permission",
                                  "errors": [{"reason": "forbidden"}]}}, path="/calendar/v3/freeBusy")
    with tenant_context(alpha), pytest.raises(CalendarUnavailable) as err:
        calendar_book(lead=lead, start=at(next_workday(), 11), duration_minutes=None, email=None, summary=None)
    assert "403" in err.value.detail and "permission" in err.value.detail
    assert "403" in health(alpha).last_error


def test_booking_of_an_amocrm_lead_adds_a_note_in_amocrm(alpha, google, lead, settings,
                                                         django_capture_on_commit_callbacks):
    from buildcrm.celery import app

    amo = AmoStandin().start()
    old = app.conf.task_always_eager
    try:
        amo.leads[4101] = {"id": 4101, "name": "Заявка"}
        tenant_config_import(alpha, {"amocrm": {"base_url": amo.url, "account_id": 30000001,
                                                "access_token": amo.access_token}})
        app.conf.task_always_eager = True
        day = next_workday()
        with tenant_context(alpha), django_capture_on_commit_callbacks(execute=True):
            AmoLeadLink.objects.create(lead=lead, account_id=30000001, amo_lead_id=4101)
            booked = calendar_book(lead=lead, start=at(day, 11), duration_minutes=None, email=None, summary=None)
        (note,) = amo.requests
        assert (note.method, note.raw_path) == ("POST", "/api/v4/leads/4101/notes")
        (item,) = note.json()
        assert item["note_type"] == "common"
        assert item["params"]["text"] == (
            f"Назначена встреча {day.strftime('%d.%m.%Y')} 11:00 ({TZ}). Google Meet: {booked['meet_link']} "
            f"Календарь: {booked['html_link']}")
    finally:
        app.conf.task_always_eager = old
        amo.stop()


def test_not_connected_calendar_is_unavailable_and_another_tenants_is_not_used(alpha, tenant_b, google):
    with tenant_context(tenant_b):
        other, _ = lead_services.lead_for_inbound(provider="sandbox", identity="77019990000", phone="77019990000",
                                                  name="Beta")
        with pytest.raises(CalendarUnavailable) as err:
            calendar_availability(lead=other, date_from=next_workday(), date_to=next_workday())
    assert "not connected" in err.value.detail
    assert google.requests == []
    assert health(tenant_b).last_error_source == "google_calendar" and health(alpha).last_error == ""


# --- OAuth consent in the global admin -------------------------------------------------------------


@pytest.fixture
def platform_admin(db):
    from accounts.models import User

    with schema_context("public"):
        return User.objects.create_superuser("root@platform.test", "Root-pass-123!")


def platform_client(user=None) -> Client:
    client = Client(HTTP_HOST=settings.PUBLIC_DOMAIN)
    if user is not None:
        client.force_login(user)
    return client


def flash(response) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]


def test_tenant_page_shows_the_connect_link(alpha, platform_admin):
    response = platform_client(platform_admin).get(f"/admin/tenants/tenant/{alpha.pk}/change/")
    assert response.status_code == 200
    html = response.content.decode()
    assert f'href="/oauth/google/connect/{alpha.pk}/"' in html
    assert "Подключить Google Calendar" not in html and "Переподключить Google Calendar" in html  # token set


def test_consent_flow_stores_the_refresh_token_encrypted(alpha, google, platform_admin):
    tenant_config_import(alpha, {"google_calendar": {"refresh_token": ""}})
    client = platform_client(platform_admin)
    assert "Подключить Google Calendar" in client.get(f"/admin/tenants/tenant/{alpha.pk}/change/").content.decode()

    response = client.get(f"/oauth/google/connect/{alpha.pk}/")
    assert response.status_code == 302
    target = urlsplit(response["Location"])
    assert f"{target.scheme}://{target.netloc}{target.path}" == f"{google.url}/auth"
    query = {k: v[0] for k, v in parse_qs(target.query).items()}
    redirect_uri = f"http://{settings.PUBLIC_DOMAIN}/oauth/google/callback/"
    assert query["client_id"] == google.client_id and query["redirect_uri"] == redirect_uri
    assert (query["response_type"], query["scope"], query["access_type"], query["prompt"]) == (
        "code", SCOPE, "offline", "consent")

    # Google sends the admin back with a code and our state.
    back = client.get("/oauth/google/callback/", {"code": "good-code", "state": query["state"]})
    assert back.status_code == 302 and back["Location"] == f"/admin/tenants/tenant/{alpha.pk}/change/"
    assert any("подключён" in m for m in flash(back))
    (exchange,) = google.requests
    assert (exchange.method, exchange.path) == ("POST", "/token")
    assert exchange.form() == {"code": "good-code", "client_id": google.client_id,
                               "client_secret": google.client_secret, "redirect_uri": redirect_uri,
                               "grant_type": "authorization_code"}
    fresh = Tenant.objects.get(pk=alpha.pk)
    assert tenant_config_get(fresh)["google_calendar"]["refresh_token"] == "g-refresh-new"
    assert fresh.config["google_calendar"]["refresh_token"].startswith("enc:v1:")


@pytest.mark.parametrize("state", ["", "forged", "eyJ0ZW5hbnQiOjF9:bad:sig"])
def test_callback_with_a_bad_state_changes_nothing(alpha, google, platform_admin, state):
    response = platform_client(platform_admin).get("/oauth/google/callback/", {"code": "good-code", "state": state})
    assert response.status_code == 302
    assert google.requests == []
    assert tenant_config_get(Tenant.objects.get(pk=alpha.pk))["google_calendar"]["refresh_token"] == "g-refresh-ok"


def test_state_of_another_admin_is_refused(alpha, google, platform_admin):
    from accounts.models import User

    with schema_context("public"):
        other = User.objects.create_superuser("other@platform.test", "Other-pass-123!")
    started = platform_client(platform_admin).get(f"/oauth/google/connect/{alpha.pk}/")
    state = parse_qs(urlsplit(started["Location"]).query)["state"][0]
    response = platform_client(other).get("/oauth/google/callback/", {"code": "good-code", "state": state})
    assert response.status_code == 302 and google.requests == []


def test_denied_consent_and_bad_code(alpha, google, platform_admin):
    client = platform_client(platform_admin)
    state = parse_qs(urlsplit(client.get(f"/oauth/google/connect/{alpha.pk}/")["Location"]).query)["state"][0]
    denied = client.get("/oauth/google/callback/", {"error": "access_denied", "state": state})
    assert any("access_denied" in m for m in flash(denied)) and google.requests == []
    bad = client.get("/oauth/google/callback/", {"code": "stolen-code", "state": state})
    assert bad.status_code == 302 and any("не подключён" in m for m in flash(bad))
    assert "invalid_grant" in health(alpha).last_error
    assert tenant_config_get(Tenant.objects.get(pk=alpha.pk))["google_calendar"]["refresh_token"] == "g-refresh-ok"


def test_connect_without_client_credentials_explains_what_is_missing(tenant_a, platform_admin):
    response = platform_client(platform_admin).get(f"/oauth/google/connect/{tenant_a.pk}/")
    assert response.status_code == 302 and response["Location"] == f"/admin/tenants/tenant/{tenant_a.pk}/change/"
    assert any("client_id" in m for m in flash(response))


def test_consent_views_are_for_platform_superusers_only(alpha, google, db):
    from accounts.models import User

    with schema_context("public"):
        staff = User.objects.create_user("staff@platform.test", "Staff-pass-123!", is_staff=True)
    for client in (platform_client(), platform_client(staff)):
        for url in (f"/oauth/google/connect/{alpha.pk}/", "/oauth/google/callback/?code=good-code&state=x"):
            response = client.get(url)
            assert response.status_code == 302 and response["Location"].startswith("/admin/login/")
    assert google.requests == []
    # Tenant users cannot reach the platform host's views from their own host either.
    tenant_client = Client(HTTP_HOST=f"{alpha.slug}.{settings.TENANT_BASE_DOMAIN}")
    assert tenant_client.get(f"/oauth/google/connect/{alpha.pk}/").status_code in (200, 404)
    assert google.requests == []


def test_the_migration_keeps_only_the_event_id_and_link_of_older_bookings(alpha, lead):
    """Seed 000: what earlier versions kept of a booking (start, end, links, attendee) becomes the id and link."""
    import importlib

    from django.apps import apps

    migration = importlib.import_module("meetings.migrations.0001_meeting_event_id_and_link")
    old = {"event_id": "ev-old", "start": "2026-12-01T11:00:00+05:00", "end": "2026-12-01T11:30:00+05:00",
           "html_link": "https://calendar.example/ev-old", "meet_link": "https://meet.google.com/old"}
    with tenant_context(alpha):
        lead.ai_state = {**lead.ai_state, "meeting": old}
        lead.save(update_fields=["ai_state"])
        LeadEvent.objects.create(lead=lead, kind="meeting_booked", actor_kind="ai", field="meeting",
                                 after={**old, "attendee": "aigul@stroydom.kz"}, text="Встреча 01.12.2026 11:00")
        migration.keep_only_id_and_link(apps, None)
        lead.refresh_from_db()
        assert lead.ai_state["meeting"] == {"event_id": "ev-old", "link": "https://meet.google.com/old"}
        event = LeadEvent.objects.get(lead=lead, kind="meeting_booked")
        assert (event.after, event.text) == ({"event_id": "ev-old", "link": "https://meet.google.com/old"}, "")
        meeting = Meeting.objects.get(event_id="ev-old")
        assert (meeting.lead_id, meeting.link) == (lead.pk, "https://meet.google.com/old")
