"""Google Calendar OAuth consent for a tenant, started from its page in the global admin.

"Connect Google Calendar" → Google's consent screen (the tenant's `google_calendar.auth_uri` and
`client_id`) → back to the platform host's callback with a signed state naming the tenant and the admin
→ the code is exchanged at `token_uri` and the refresh token is saved encrypted in the tenant config.
Platform superusers only (the admin's own login and permission check wraps both views).
"""
from __future__ import annotations

import logging

from django.contrib import admin, messages
from django.core import signing
from django.http import HttpResponseRedirect
from django.urls import path, reverse
from django.utils.html import format_html

from integrations import google_calendar as gc
from tenants.models import Tenant
from tenants.selectors import tenant_config_get
from tenants.services import health_record, tenant_config_import

log = logging.getLogger("buildcrm.tenants")

STATE_SALT = "buildcrm.google-calendar-consent"
STATE_MAX_AGE = 15 * 60


def _tenant_page(tenant_id: int | None) -> str:
    if tenant_id is None:
        return reverse("admin:tenants_tenant_changelist")
    return reverse("admin:tenants_tenant_change", args=[tenant_id])


def _redirect_uri(request) -> str:
    return request.build_absolute_uri(reverse("google_calendar_callback"))


def google_connect(request, tenant_id: int):
    """Sends the superuser to Google's consent screen for this tenant's calendar."""
    tenant = Tenant.objects.filter(pk=tenant_id, is_template=False).exclude(schema_name="public").first()
    if tenant is None:
        messages.error(request, "Клиент не найден.")
        return HttpResponseRedirect(_tenant_page(None))
    config = tenant_config_get(tenant).get("google_calendar") or {}
    missing = [key for key in ("auth_uri", "token_uri", "client_id", "client_secret") if not config.get(key)]
    if missing:
        messages.error(request, f"Google Calendar: сначала заполните {', '.join(missing)} в настройках клиента.")
        return HttpResponseRedirect(_tenant_page(tenant.pk))
    state = signing.dumps({"tenant": tenant.pk, "user": request.user.pk}, salt=STATE_SALT)
    url = gc.authorize_url(auth_uri=config["auth_uri"], client_id=config["client_id"],
                           redirect_uri=_redirect_uri(request), state=state)
    log.info("tenant=%s google calendar consent started by=%s", tenant.slug, request.user.email)
    return HttpResponseRedirect(url)


def google_callback(request):
    """Google's redirect back: checks the signed state, exchanges the code, stores the refresh token."""
    try:
        state = signing.loads(request.GET.get("state", ""), salt=STATE_SALT, max_age=STATE_MAX_AGE)
        tenant_id, user_id = int(state["tenant"]), int(state["user"])
    except (signing.BadSignature, KeyError, TypeError, ValueError):
        messages.error(request, "Google Calendar: неверный или просроченный state — начните подключение заново.")
        return HttpResponseRedirect(_tenant_page(None))
    tenant = Tenant.objects.filter(pk=tenant_id).first()
    if tenant is None or user_id != request.user.pk:
        messages.error(request, "Google Calendar: подключение начато другим пользователем или клиент удалён.")
        return HttpResponseRedirect(_tenant_page(None))
    if request.GET.get("error"):
        messages.error(request, f"Google Calendar: доступ не выдан ({request.GET['error']}).")
        return HttpResponseRedirect(_tenant_page(tenant.pk))
    code = request.GET.get("code", "")
    if not code:
        messages.error(request, "Google Calendar: в ответе Google нет кода.")
        return HttpResponseRedirect(_tenant_page(tenant.pk))
    config = tenant_config_get(tenant).get("google_calendar") or {}
    try:
        tokens = gc.exchange_code(token_uri=config.get("token_uri") or gc.DEFAULT_TOKEN_URI,
                                  client_id=config.get("client_id") or "",
                                  client_secret=config.get("client_secret") or "",
                                  redirect_uri=_redirect_uri(request), code=code)
    except gc.CalendarError as exc:
        health_record(tenant_id=tenant.pk, error=exc.detail, source="google_calendar")
        messages.error(request, f"Google Calendar не подключён: {exc.detail}")
        return HttpResponseRedirect(_tenant_page(tenant.pk))
    tenant_config_import(tenant, {"google_calendar": {"refresh_token": tokens["refresh_token"]}})
    log.info("tenant=%s google calendar connected by=%s", tenant.slug, request.user.email)
    messages.success(request, "Google Calendar подключён: токен сохранён (зашифрован).")
    return HttpResponseRedirect(_tenant_page(tenant.pk))


def calendar_connect_html(tenant: Tenant) -> str:
    """The admin's readonly row: the connection state and the consent link."""
    if not tenant or not tenant.pk:
        return "—"
    connected = bool((tenant_config_get(tenant).get("google_calendar") or {}).get("refresh_token"))
    url = reverse("google_calendar_connect", args=[tenant.pk])
    return format_html('{} <a class="button" href="{}">{}</a>',
                       "Подключён." if connected else "Не подключён.", url,
                       "Переподключить Google Calendar" if connected else "Подключить Google Calendar")


urlpatterns = [
    path("connect/<int:tenant_id>/", admin.site.admin_view(google_connect), name="google_calendar_connect"),
    path("callback/", admin.site.admin_view(google_callback), name="google_calendar_callback"),
]
