from rest_framework import serializers

from conversations.models import Message
from core.serializers import PlannedRepresentation


class MessageOut(PlannedRepresentation, serializers.ModelSerializer):
    author = serializers.SerializerMethodField()
    reaction = serializers.SerializerMethodField()

    class Meta:
        model = Message
        fields = ["id", "lead", "direction", "kind", "text", "media_url", "caption", "items", "status", "error",
                  "author_kind", "author", "purpose", "created_at", "sent_at", "reaction",
                  "transcript", "transcript_status",
                  "deleted_at"]

    def get_author(self, message) -> dict | None:
        user = message.author_user
        return {"id": user.id, "full_name": user.full_name or user.email} if user else None

    def get_reaction(self, message) -> dict | None:
        """The client's emoji on this message, {"emoji", "at"}, or null (conversations.services.reaction_apply)."""
        return message.meta.get("reaction") if isinstance(message.meta, dict) else None
