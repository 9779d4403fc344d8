"""Input and output shapes of the notifications API."""

from rest_framework import serializers

from core.api import IdField, InputSerializer
from notifications.models import Kind, Notification, Way


class NotificationOut(serializers.ModelSerializer):
    class Meta:
        model = Notification
        fields = ["id", "kind", "lead_id", "title", "body", "url", "created_at", "read_at"]


class UnreadOut(serializers.Serializer):
    count = serializers.IntegerField()


class MarkReadIn(InputSerializer):
    ids = serializers.ListField(child=IdField(), required=False, max_length=500,
                                help_text="The notifications to mark read; absent: all of the user's.")


class MarkedOut(serializers.Serializer):
    marked = serializers.IntegerField()


class WaysField(serializers.DictField):
    """{kind: {way: bool}}: only the known kinds and ways, and JSON true/false (never "yes")."""

    child = serializers.DictField(child=serializers.BooleanField())

    def to_internal_value(self, data):
        if isinstance(data, dict) and any(
            not isinstance(by_way, dict) or any(not isinstance(on, bool) for on in by_way.values())
            for by_way in data.values()
        ):
            raise serializers.ValidationError("Нужно {событие: {способ: true/false}}.")
        value = super().to_internal_value(data)
        unknown_kinds = set(value) - set(Kind.values)
        if unknown_kinds:
            raise serializers.ValidationError(f"Неизвестные события: {', '.join(sorted(unknown_kinds))[:200]}")
        for by_way in value.values():
            unknown_ways = set(by_way) - set(Way.values)
            if unknown_ways:
                raise serializers.ValidationError(f"Неизвестные способы: {', '.join(sorted(unknown_ways))[:200]}")
        return value


class PrefsIn(InputSerializer):
    ways = WaysField(required=False)
    quiet_start = serializers.TimeField(required=False, allow_null=True, format="%H:%M")
    quiet_end = serializers.TimeField(required=False, allow_null=True, format="%H:%M")

    def validate_quiet_start(self, value):
        return value.replace(tzinfo=None) if value is not None else None  # "22:00Z": the tenant's zone rules anyway

    def validate_quiet_end(self, value):
        return value.replace(tzinfo=None) if value is not None else None

    def validate(self, attrs):
        start, end = attrs.get("quiet_start", "keep"), attrs.get("quiet_end", "keep")
        if (start is None) != (end is None) and "keep" not in (start, end):
            raise serializers.ValidationError({"quiet_end": ["Укажите начало и конец тихих часов / Give both ends."]})
        return attrs


class PrefsOut(serializers.Serializer):
    ways = serializers.DictField(child=serializers.DictField(child=serializers.BooleanField()))
    quiet_start = serializers.CharField(allow_null=True, help_text='"HH:MM" in the tenant\'s zone, or null.')
    quiet_end = serializers.CharField(allow_null=True, help_text='"HH:MM" in the tenant\'s zone, or null.')
    timezone = serializers.CharField(help_text="The tenant's zone the quiet hours are read in.")
    telegram_linked = serializers.BooleanField()
    telegram_bot = serializers.BooleanField(help_text="Whether the tenant has a Telegram bot to link to.")
    kinds = serializers.ListField(child=serializers.CharField())
    channels = serializers.ListField(child=serializers.CharField(), help_text="The ways, in order.")


class PushKeyOut(serializers.Serializer):
    public_key = serializers.CharField(allow_blank=True, help_text="The VAPID applicationServerKey (base64url).")


class PushKeysIn(InputSerializer):
    p256dh = serializers.CharField(max_length=200)
    auth = serializers.CharField(max_length=100)


class PushSubscribeIn(InputSerializer):
    endpoint = serializers.URLField(max_length=1000)
    keys = PushKeysIn()


class PushUnsubscribeIn(InputSerializer):
    # Any text: an endpoint this user has no device at is nothing to remove (204 all the same).
    endpoint = serializers.CharField(max_length=1000)


class TelegramCodeOut(serializers.Serializer):
    code = serializers.CharField()
    expires_at = serializers.DateTimeField()
    bot_username = serializers.CharField(allow_blank=True)
