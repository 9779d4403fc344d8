from rest_framework import serializers

from buildcrm.serializers import PlannedRepresentation
from conversations.models import Message


class MessageOut(PlannedRepresentation, serializers.ModelSerializer):
    author = serializers.SerializerMethodField()

    class Meta:
        model = Message
        fields = ["id", "lead", "direction", "kind", "text", "media_url", "caption", "items", "status", "error",
                  "author_kind", "author", "purpose", "created_at", "sent_at"]

    def get_author(self, message) -> dict | None:
        user = message.author_user
        return {"id": user.id, "full_name": user.full_name or user.email} if user else None
