"""Output shapes of leads, shared by the REST API and websocket events."""
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from core.serializers import PlannedRepresentation
from leads.models import ENGINE_STAGE_KINDS, Lead, LeadEvent, Stage
from leads.selectors import lead_no_answer


def user_brief(user) -> dict | None:
    if user is None:
        return None
    return {"id": user.id, "email": user.email, "full_name": user.full_name}


class StageOut(serializers.ModelSerializer):
    deletable = serializers.SerializerMethodField(help_text="False for the stages the AI moves leads into: they may "
                                                            "be renamed and recoloured, not deleted.")

    class Meta:
        model = Stage
        fields = ["id", "name", "kind", "color", "position", "deletable"]

    def get_deletable(self, stage) -> bool:
        return stage.kind not in ENGINE_STAGE_KINDS


@extend_schema_field({"type": "array", "items": {"type": "string"}})
class TagsField(serializers.JSONField):
    """A lead's tags: stored as a JSON array of strings, copied as they are on the board's hot path."""


class LeadOut(PlannedRepresentation, serializers.ModelSerializer):
    stage_kind = serializers.CharField(source="stage.kind", read_only=True)
    stage_pinned = serializers.BooleanField(source="stage_locked", read_only=True,
                                            help_text="A person placed the lead: the AI does not move its stage.")
    assignee = serializers.SerializerMethodField()
    handled_by = serializers.SerializerMethodField()
    no_answer = serializers.SerializerMethodField()
    read_count = serializers.SerializerMethodField(
        help_text="Client messages the requesting user had seen when they last opened the lead; null in live events "
                  "(they go to many users: keep the value you have).")
    unread = serializers.SerializerMethodField(help_text="inbound_count − read_count for the requesting user; null in "
                                                         "live events.")
    tags = TagsField(read_only=True)
    tags_auto = TagsField(read_only=True, help_text="Which of `tags` the AI put there from what the client wrote.")

    class Meta:
        model = Lead
        fields = [
            "id", "name", "phone", "email", "city", "channel", "source", "campaign", "stage", "stage_kind",
            "stage_pinned", "score",
            "temperature", "score_reasons", "assignee", "ai_enabled", "handled_by", "needs_human",
            "needs_human_reason", "refused", "call_requested", "preferred_time", "last_message", "last_message_at",
            "waiting_since", "no_answer", "client_waiting_since", "inbound_count", "read_count", "unread", "data",
            "source_info", "created_at", "updated_at", "amount", "tags", "tags_auto",
        ]

    def get_assignee(self, lead) -> dict | None:
        return user_brief(lead.assignee)

    def get_handled_by(self, lead) -> str | dict | None:
        if lead.handler_id:
            return user_brief(lead.handler)
        return "ai" if lead.ai_enabled else None

    def get_no_answer(self, lead) -> bool:
        return lead_no_answer(lead)

    def get_read_count(self, lead) -> int | None:
        return getattr(lead, "read_count", None)

    def get_unread(self, lead) -> int | None:
        seen = getattr(lead, "read_count", None)
        return None if seen is None else max(0, lead.inbound_count - seen)


class LeadCardOut(LeadOut):
    """The card adds the tenant's qualification fields so the PWA can render and edit `data` by type, and the pin:
    who placed the lead on its stage by hand and when (the card says "Закреплено: Анна, 12:40")."""

    stage_pinned_by = serializers.SerializerMethodField()
    stage_pinned_at = serializers.SerializerMethodField()

    class Meta(LeadOut.Meta):
        fields = [*LeadOut.Meta.fields, "stage_pinned_by", "stage_pinned_at", "amount_by_person"]

    def get_stage_pinned_by(self, lead) -> dict | None:
        return user_brief(lead.stage_pinned_by) if lead.stage_locked else None

    def get_stage_pinned_at(self, lead) -> str | None:
        return lead.stage_pinned_at.isoformat() if lead.stage_locked and lead.stage_pinned_at else None

    def to_representation(self, lead):
        from leads.selectors import qualification_fields

        data = super().to_representation(lead)
        data["fields"] = qualification_fields()
        return data


class LeadEventOut(serializers.ModelSerializer):
    """One timeline entry. The PWA writes the sentence from `kind` + `field` + `before`/`after` in the UI's language;
    `names` maps the e-mails an entry carries (assignments, takeovers) to people's names (context["names"])."""

    actor = serializers.SerializerMethodField()
    names = serializers.SerializerMethodField()

    class Meta:
        model = LeadEvent
        fields = ["id", "kind", "actor", "field", "before", "after", "text", "names", "created_at"]

    def get_names(self, event) -> dict:
        names = self.context.get("names") or {}
        return {value: names[value] for value in (event.before, event.after)
                if isinstance(value, str) and value in names}

    def get_actor(self, event) -> str | dict:
        if event.actor_kind == "user" and event.actor_user_id:
            return user_brief(event.actor_user)
        return event.actor_kind
