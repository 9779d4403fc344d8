"""Leads, board, stages and analytics API: thin views over leads.services / leads.selectors."""
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.permissions import IsOwnerOrHead, IsTenantUser
from buildcrm.api import Pagination
from leads import selectors, services
from leads.models import Stage
from leads.serializers import LeadCardOut, LeadEventOut, LeadOut, StageOut


def visible_lead(request, pk: int):
    return get_object_or_404(selectors.leads_visible_to(user=request.user), pk=pk)


LIST_PARAMS = [OpenApiParameter(name, str, required=False) for name in
               ("stage", "stage_kind", "temperature", "assignee", "ai", "channel", "source", "campaign", "q",
                "ordering", "created_from", "created_to", "needs_human", "page", "page_size")]


class LeadListView(APIView):
    permission_classes = [IsTenantUser]

    @extend_schema(parameters=LIST_PARAMS, responses=LeadOut(many=True))
    def get(self, request):
        paginator = Pagination()
        page = paginator.paginate_queryset(selectors.leads_filtered(user=request.user, params=request.query_params),
                                           request, view=self)
        return paginator.get_paginated_response(LeadOut(page, many=True).data)


class LeadPatchIn(serializers.Serializer):
    name = serializers.CharField(required=False, allow_blank=True, max_length=150)
    phone = serializers.CharField(required=False, allow_blank=True, max_length=20)
    email = serializers.EmailField(required=False, allow_blank=True)
    city = serializers.CharField(required=False, allow_blank=True, max_length=100)
    source_info = serializers.CharField(required=False, allow_blank=True)
    ai_enabled = serializers.BooleanField(required=False)
    data = serializers.DictField(required=False)
    stage = serializers.IntegerField(required=False)
    assignee = serializers.IntegerField(required=False, allow_null=True)


class LeadDetailView(APIView):
    permission_classes = [IsTenantUser]

    @extend_schema(responses=LeadCardOut)
    def get(self, request, pk: int):
        return Response(LeadCardOut(visible_lead(request, pk)).data)

    @extend_schema(request=LeadPatchIn, responses=LeadCardOut)
    def patch(self, request, pk: int):
        lead = visible_lead(request, pk)
        data = LeadPatchIn(data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        values = dict(data.validated_data)
        services.lead_change(lead=lead, user=request.user, stage_id=values.pop("stage", None),
                             change_assignee="assignee" in values, assignee_id=values.pop("assignee", None),
                             **values)
        # Not visible_lead again: a restricted manager who unassigns themselves gets the result, not a 404.
        lead.refresh_from_db()
        return Response(LeadCardOut(lead).data)


class LeadTakeoverView(APIView):
    permission_classes = [IsTenantUser]

    @extend_schema(request=None, responses=LeadCardOut)
    def post(self, request, pk: int):
        lead = services.lead_takeover(lead=visible_lead(request, pk), user=request.user)
        return Response(LeadCardOut(lead).data)


class LeadReturnToAIView(APIView):
    permission_classes = [IsTenantUser]

    @extend_schema(request=None, responses=LeadCardOut)
    def post(self, request, pk: int):
        lead = services.lead_return_to_ai(lead=visible_lead(request, pk), user=request.user)
        return Response(LeadCardOut(lead).data)


class LeadEventsView(APIView):
    permission_classes = [IsTenantUser]

    @extend_schema(responses=LeadEventOut(many=True))
    def get(self, request, pk: int):
        lead = visible_lead(request, pk)
        return Response(LeadEventOut(lead.events.select_related("actor_user")[:500], many=True).data)


class FollowUpOut(serializers.Serializer):
    id = serializers.IntegerField()
    kind = serializers.CharField()
    step = serializers.IntegerField()
    text = serializers.CharField()
    due_at = serializers.DateTimeField()
    status = serializers.CharField()
    reason = serializers.CharField()
    answered = serializers.BooleanField()


class LeadFollowUpsView(APIView):
    permission_classes = [IsTenantUser]

    @extend_schema(responses=FollowUpOut(many=True))
    def get(self, request, pk: int):
        lead = visible_lead(request, pk)
        from followups.selectors import followups_of_lead

        return Response(FollowUpOut(followups_of_lead(lead=lead), many=True).data)


class BoardColumnOut(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    kind = serializers.CharField()
    color = serializers.CharField()
    position = serializers.IntegerField()
    count = serializers.IntegerField()
    leads = LeadOut(many=True)


class BoardOut(serializers.Serializer):
    stages = BoardColumnOut(many=True)


class BoardView(APIView):
    permission_classes = [IsTenantUser]

    @extend_schema(responses=BoardOut)
    def get(self, request):
        columns = []
        per_stage = request.query_params.get("per_stage", "30")
        if not per_stage.isdigit() or not 0 <= int(per_stage) <= 200:
            raise ValidationError({"per_stage": ["Целое число от 0 до 200."]})
        for column in selectors.board(user=request.user, per_stage=int(per_stage)):
            data = StageOut(column["stage"]).data
            data.update(count=column["count"], leads=LeadOut(column["leads"], many=True).data)
            columns.append(data)
        return Response({"stages": columns})


class StageIn(serializers.Serializer):
    name = serializers.CharField(max_length=80)
    color = serializers.RegexField(r"^#[0-9a-fA-F]{6}$", required=False)
    position = serializers.IntegerField(required=False, min_value=0)


class StageListView(APIView):
    def get_permissions(self):
        return [IsTenantUser()] if self.request.method == "GET" else [IsOwnerOrHead()]

    @extend_schema(responses=StageOut(many=True))
    def get(self, request):
        return Response(StageOut(Stage.objects.all(), many=True).data)

    @extend_schema(request=StageIn, responses={201: StageOut})
    def post(self, request):
        data = StageIn(data=request.data)
        data.is_valid(raise_exception=True)
        stage = services.stage_create(actor=services.user_actor(request.user), **data.validated_data)
        return Response(StageOut(stage).data, status=status.HTTP_201_CREATED)


class StageDetailView(APIView):
    permission_classes = [IsOwnerOrHead]

    @extend_schema(request=StageIn, responses=StageOut)
    def patch(self, request, pk: int):
        stage = get_object_or_404(Stage, pk=pk)
        data = StageIn(data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        stage = services.stage_update(stage=stage, actor=services.user_actor(request.user), **data.validated_data)
        return Response(StageOut(stage).data)

    @extend_schema(parameters=[OpenApiParameter("move_to", int, required=False)], responses={204: None})
    def delete(self, request, pk: int):
        stage = get_object_or_404(Stage, pk=pk)
        move_to_id = request.query_params.get("move_to") or request.data.get("move_to")
        move_to = None
        if move_to_id not in (None, ""):
            move_to = Stage.objects.filter(pk=int(move_to_id)).first() if str(move_to_id).isdigit() else None
            if move_to is None:
                raise ValidationError({"move_to": [f"Нет такого этапа: {str(move_to_id)[:20]}."]})
        try:
            services.stage_delete(stage=stage, move_to=move_to, actor=services.user_actor(request.user))
        except ValueError as exc:
            raise ValidationError({"move_to": [str(exc)]}) from None
        return Response(status=status.HTTP_204_NO_CONTENT)


class AnalyticsView(APIView):
    permission_classes = [IsTenantUser]

    @extend_schema(parameters=[OpenApiParameter("from", str), OpenApiParameter("to", str)])
    def get(self, request):
        from leads.analytics import analytics_summary

        return Response(analytics_summary(user=request.user, date_from=request.query_params.get("from"),
                                          date_to=request.query_params.get("to")))
