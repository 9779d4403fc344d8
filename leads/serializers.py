"""Output shapes of leads, shared by the REST API and websocket events."""
from rest_framework import serializers

from core.serializers import PlannedRepresentation
from leads.models import Lead, LeadEvent, Stage
from leads.selectors import lead_no_answer


def user_brief(user) -> dict | None:
    if user is None:
        return None
    return {"id": user.id, "email": user.email, "full_name": user.full_name}


class StageOut(serializers.ModelSerializer):
    class Meta:
        model = Stage
        fields = ["id", "name", "kind", "color", "position"]


class LeadOut(PlannedRepresentation, serializers.ModelSerializer):
    stage_kind = serializers.CharField(source="stage.kind", read_only=True)
    assignee = serializers.SerializerMethodField()
    handled_by = serializers.SerializerMethodField()
    no_answer = serializers.SerializerMethodField()

    class Meta:
        model = Lead
        fields = [
            "id", "name", "phone", "email", "city", "channel", "source", "campaign", "stage", "stage_kind", "score",
            "temperature", "score_reasons", "assignee", "ai_enabled", "handled_by", "needs_human",
            "needs_human_reason", "refused", "call_requested", "preferred_time", "last_message", "last_message_at",
            "waiting_since", "no_answer", "data", "source_info", "created_at", "updated_at",
        ]

    def get_assignee(self, lead) -> dict | None:
        return user_brief(lead.assignee)

    def get_handled_by(self, lead) -> str | dict | None:
        if lead.handler_id:
            return user_brief(lead.handler)
        return "ai" if lead.ai_enabled else None

    def get_no_answer(self, lead) -> bool:
        return lead_no_answer(lead)


class LeadCardOut(LeadOut):
    """The card adds the tenant's qualification fields so the PWA can render and edit `data` by type."""

    def to_representation(self, lead):
        from leads.selectors import qualification_fields

        data = super().to_representation(lead)
        data["fields"] = qualification_fields()
        return data


class LeadEventOut(serializers.ModelSerializer):
    actor = serializers.SerializerMethodField()

    class Meta:
        model = LeadEvent
        fields = ["id", "kind", "actor", "field", "before", "after", "text", "created_at"]

    def get_actor(self, event) -> str | dict:
        if event.actor_kind == "user" and event.actor_user_id:
            return user_brief(event.actor_user)
        return event.actor_kind
