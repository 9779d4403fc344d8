"""Notifications API: the user's own list, unread count, marking read, preferences, this device's push subscription
and Telegram linking. Every endpoint reads and writes only the requesting user's rows."""

from __future__ import annotations

import base64
import binascii
import ipaddress
from urllib.parse import urlsplit

from django.conf import settings
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.permissions import IsTenantUser
from conversations.services import channel_config
from core.api import QueryBooleanField, query_params
from notifications import selectors, services
from notifications.models import Kind, Way
from notifications.serializers import (
    MarkedOut,
    MarkReadIn,
    NotificationOut,
    PrefsIn,
    PrefsOut,
    PushKeyOut,
    PushSubscribeIn,
    PushUnsubscribeIn,
    TelegramCodeOut,
    UnreadOut,
)
from tenants.selectors import platform_vapid_keys, tenant_config_current

LIST_LIMIT = 100


class ListIn(serializers.Serializer):
    unread = QueryBooleanField(required=False, help_text="Only the unread ones.")


class NotificationListView(APIView):
    permission_classes = [IsTenantUser]

    @extend_schema(parameters=[ListIn], responses=NotificationOut(many=True))
    def get(self, request):
        unread = bool(query_params(request, ListIn).get("unread"))
        rows = selectors.notifications_of(user=request.user, unread_only=unread)[:LIST_LIMIT]
        return Response(NotificationOut(rows, many=True).data)


class UnreadView(APIView):
    permission_classes = [IsTenantUser]

    @extend_schema(responses=UnreadOut)
    def get(self, request):
        return Response({"count": selectors.unread_count(user=request.user)})


class MarkReadView(APIView):
    permission_classes = [IsTenantUser]

    @extend_schema(request=MarkReadIn, responses=MarkedOut)
    def post(self, request):
        data = MarkReadIn(data=request.data)
        data.is_valid(raise_exception=True)
        ids = data.validated_data.get("ids")
        return Response({"marked": services.notifications_mark_read(user=request.user, ids=ids)})


def _prefs_out(user) -> dict:
    prefs = services.prefs_get_or_create(user=user)
    cfg = tenant_config_current()
    return {
        "ways": selectors.prefs_ways(prefs),
        "quiet_start": prefs.quiet_start.strftime("%H:%M") if prefs.quiet_start else None,
        "quiet_end": prefs.quiet_end.strftime("%H:%M") if prefs.quiet_end else None,
        "timezone": cfg.get("timezone") or "UTC",
        "telegram_linked": bool(prefs.telegram_chat_id),
        "telegram_bot": bool(channel_config("telegram").get("bot_token")),
        "kinds": list(Kind.values),
        "channels": list(Way.values),
    }


class PrefsView(APIView):
    permission_classes = [IsTenantUser]

    @extend_schema(responses=PrefsOut)
    def get(self, request):
        return Response(PrefsOut(_prefs_out(request.user)).data)

    @extend_schema(request=PrefsIn, responses=PrefsOut)
    def put(self, request):
        data = PrefsIn(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        services.prefs_update(user=request.user, ways=values.get("ways"),
                              quiet_start=values.get("quiet_start", "keep"), quiet_end=values.get("quiet_end", "keep"))
        return Response(PrefsOut(_prefs_out(request.user)).data)


class PushKeyView(APIView):
    permission_classes = [IsTenantUser]

    @extend_schema(responses=PushKeyOut)
    def get(self, request):
        keys = platform_vapid_keys()
        return Response({"public_key": keys[1] if keys else ""})


def endpoint_allowed(endpoint: str, *, allow_local: bool) -> bool:
    """A browser's push endpoint: https on a host name. Our workers POST to it, so an address inside our network
    (http, an IP literal, localhost) is refused unless local endpoints are allowed (development, stand-ins)."""
    parts = urlsplit(endpoint)
    if parts.scheme not in ("https", "http") or not parts.hostname:
        return False
    if allow_local:
        return True
    host = parts.hostname
    try:
        ipaddress.ip_address(host)
        return False
    except ValueError:
        pass
    return parts.scheme == "https" and host != "localhost" and not host.endswith((".localhost", ".local"))


def _b64url_bytes(value: str, field: str, size: int) -> None:
    try:
        raw = base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))
    except (binascii.Error, ValueError):
        raise ValidationError({field: ["Нужен base64url / base64url expected."]}) from None
    if len(raw) != size:
        raise ValidationError({field: [f"Нужно {size} байт / {size} bytes expected."]})


class PushSubscribeView(APIView):
    permission_classes = [IsTenantUser]

    @extend_schema(request=PushSubscribeIn, responses={201: None})
    def post(self, request):
        data = PushSubscribeIn(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        if not endpoint_allowed(values["endpoint"], allow_local=settings.WEBPUSH_ALLOW_LOCAL):
            raise ValidationError({"endpoint": ["Нужен https-адрес push-сервиса / A push service's https URL."]})
        _b64url_bytes(values["keys"]["p256dh"], "p256dh", 65)
        _b64url_bytes(values["keys"]["auth"], "auth", 16)
        services.push_subscribe(user=request.user, endpoint=values["endpoint"], p256dh=values["keys"]["p256dh"],
                                auth=values["keys"]["auth"], user_agent=request.headers.get("User-Agent", ""))
        return Response(status=status.HTTP_201_CREATED)


class PushUnsubscribeView(APIView):
    permission_classes = [IsTenantUser]

    @extend_schema(request=PushUnsubscribeIn, responses={204: None})
    def post(self, request):
        data = PushUnsubscribeIn(data=request.data)
        data.is_valid(raise_exception=True)
        services.push_unsubscribe(user=request.user, endpoint=data.validated_data["endpoint"])
        return Response(status=status.HTTP_204_NO_CONTENT)


class TelegramLinkView(APIView):
    permission_classes = [IsTenantUser]

    @extend_schema(request=None, responses={201: TelegramCodeOut})
    def post(self, request):
        if not channel_config("telegram").get("bot_token"):
            raise ValidationError({"detail": "У компании нет Telegram-бота / The company has no Telegram bot."})
        code = services.telegram_code_new(user=request.user)
        bot = str(channel_config("telegram").get("bot_username") or "")
        return Response({"code": code.code, "expires_at": code.expires_at, "bot_username": bot},
                        status=status.HTTP_201_CREATED)

    @extend_schema(request=None, responses={204: None})
    def delete(self, request):
        services.telegram_unlink(user=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


