"""Output shape of a task (the PWA writes it in words: "Позвонить завтра в 11:00")."""

from rest_framework import serializers

from leads.serializers import user_brief
from tasks.models import Task


class TaskOut(serializers.ModelSerializer):
    lead_name = serializers.SerializerMethodField()
    assignee = serializers.SerializerMethodField()
    created_by = serializers.SerializerMethodField(help_text='"ai", or the person who made the task.')
    done_by = serializers.SerializerMethodField()

    class Meta:
        model = Task
        fields = [
            "id",
            "lead",
            "lead_name",
            "kind",
            "title",
            "note",
            "due_at",
            "due_named",
            "assignee",
            "done_at",
            "done_by",
            "created_by",
            "created_at",
        ]

    def get_lead_name(self, task) -> str:
        lead = task.lead
        return lead.name or (f"+{lead.phone}" if lead.phone else f"#{lead.pk}")

    def get_assignee(self, task) -> dict | None:
        return user_brief(task.assignee)

    def get_done_by(self, task) -> dict | None:
        return user_brief(task.done_by)

    def get_created_by(self, task) -> str | dict | None:
        return "ai" if task.created_by_kind == "ai" else user_brief(task.created_by)
