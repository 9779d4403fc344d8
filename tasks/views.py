"""Tasks API: a lead's tasks, "my tasks", create, mark done — thin views over tasks.services / selectors."""

from datetime import timedelta
from zoneinfo import ZoneInfo

from django.shortcuts import get_object_or_404
from django.utils import timezone
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.permissions import IsTenantUser
from core.api import IdField, InputSerializer, QueryBooleanField, query_params
from leads.selectors import leads_visible_to
from leads.views import visible_lead
from tasks import selectors, services
from tasks.models import Task, TaskKind
from tasks.serializers import TaskOut
from tenants.selectors import tenant_config_current

# A due time further than this from now is a typo or an attack, not a task.
MAX_AHEAD = timedelta(days=3 * 366)


class TenantZoneDateTimeField(serializers.DateTimeField):
    """A time without an offset ("2026-12-01T11:00", as a datetime-local input sends it) is read on the tenant's
    wall clock, not the server's."""

    def default_timezone(self):
        return ZoneInfo(tenant_config_current().get("timezone") or "UTC")


class TaskIn(InputSerializer):
    kind = serializers.ChoiceField(choices=TaskKind.choices, default=TaskKind.OTHER)
    title = serializers.CharField(required=False, allow_blank=True, max_length=200)
    due_at = TenantZoneDateTimeField(help_text="ISO 8601; without an offset, in the tenant's time zone.")
    assignee = IdField(required=False, allow_null=True)

    def validate_due_at(self, value):
        now = timezone.now()
        if not (now - MAX_AHEAD <= value <= now + MAX_AHEAD):
            raise ValidationError("Срок слишком далеко / The due time is too far away.")
        return value


class TasksListIn(serializers.Serializer):
    done = QueryBooleanField(required=False, help_text="Include the tasks already done.")


class LeadTasksView(APIView):
    permission_classes = [IsTenantUser]

    @extend_schema(responses=TaskOut(many=True))
    def get(self, request, pk: int):
        lead = visible_lead(request, pk)
        return Response(TaskOut(selectors.tasks_of_lead(lead_id=lead.pk)[:200], many=True).data)

    @extend_schema(request=TaskIn, responses={201: TaskOut})
    def post(self, request, pk: int):
        lead = visible_lead(request, pk)
        data = TaskIn(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        task = services.task_create(
            lead=lead,
            user=request.user,
            kind=values["kind"],
            title=values.get("title", ""),
            due_at=values["due_at"],
            assignee_id=values.get("assignee"),
        )
        return Response(TaskOut(task).data, status=status.HTTP_201_CREATED)


class MyTasksView(APIView):
    permission_classes = [IsTenantUser]

    @extend_schema(parameters=[TasksListIn], responses=TaskOut(many=True))
    def get(self, request):
        include_done = bool(query_params(request, TasksListIn).get("done"))
        return Response(
            TaskOut(selectors.tasks_mine(user=request.user, include_done=include_done)[:500], many=True).data
        )


class TaskDoneView(APIView):
    permission_classes = [IsTenantUser]

    @extend_schema(request=None, responses=TaskOut)
    def post(self, request, pk: int):
        task = get_object_or_404(
            Task.objects.filter(lead__in=leads_visible_to(user=request.user).values("pk")).select_related("lead"), pk=pk
        )
        return Response(TaskOut(services.task_done(task=task, user=request.user)).data)
