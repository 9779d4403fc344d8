from rest_framework import serializers

from conversations.models import LeadNote, Message, QuickReply
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


class QuickReplyOut(serializers.ModelSerializer):
    class Meta:
        model = QuickReply
        fields = ["id", "title", "text", "position", "created_at", "updated_at"]


class LeadNoteOut(serializers.ModelSerializer):
    author = serializers.SerializerMethodField()

    class Meta:
        model = LeadNote
        fields = ["id", "lead", "text", "author", "created_at"]

    def get_author(self, note) -> dict | None:
        user = note.author
        return {"id": user.id, "full_name": user.full_name or user.email} if user else None


class TemplateOut(serializers.Serializer):
    name = serializers.CharField()
    language = serializers.CharField()
    text = serializers.CharField(help_text="The approved body with its variables filled for this lead.")
    parameters = serializers.ListField(child=serializers.CharField())


class ReplyWindowOut(serializers.Serializer):
    applies = serializers.BooleanField(help_text="The lead's channel has a customer-service window (WhatsApp Cloud).")
    open = serializers.BooleanField(help_text="Free text may go out now.")
    last_inbound_at = serializers.DateTimeField(allow_null=True)
    closes_at = serializers.DateTimeField(allow_null=True)
    templates = TemplateOut(many=True)
