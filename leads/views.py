"""Leads, board and stages API: thin views over leads.services / leads.selectors."""
from django.core.exceptions import ValidationError as DjangoValidationError
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema, extend_schema_field
from rest_framework import serializers, status
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.permissions import IsOwnerOrHead, IsTenantUser
from core.api import (
    CommaSeparatedField,
    IdField,
    InputSerializer,
    Pagination,
    QueryBooleanField,
    TextListField,
    query_params,
)
from leads import assignment, selectors, services
from leads.models import (
    ENGINE_STAGE_KINDS,
    AssignmentMode,
    AssignmentWhen,
    Channel,
    Stage,
    StageKind,
    Temperature,
)
from leads.serializers import LeadCardOut, LeadEventOut, LeadOut, StageOut
from tenants.selectors import tenant_currency


def visible_lead(request, pk: int):
    return get_object_or_404(selectors.leads_visible_to(user=request.user), pk=pk)


class AssigneeFilterField(serializers.RegexField):
    """`none` (unassigned), `me`, or a user's id."""

    def __init__(self, **kwargs):
        super().__init__(r"^(none|me|[1-9][0-9]{0,17})$", **kwargs)

    def to_internal_value(self, data):
        value = super().to_internal_value(data)
        if value in ("none", "me"):
            return value
        if not (value.isascii() and value.isdigit() and 0 < len(value) <= 18):  # validators run after this
            raise ValidationError("Нужно `none`, `me` или id сотрудника.")
        return int(value)


@extend_schema_field({"oneOf": [{"type": "number", "minimum": 0, "maximum": 99999999999999.99},
                               {"type": "string", "pattern": r"^[0-9]{1,14}(\.[0-9]{1,2})?$"}]})
class AmountField(serializers.Field):
    """A deal amount: a JSON number, or the decimal string the API gives back ("2500000.50"); 0 … 10^14."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.decimal = serializers.DecimalField(max_digits=16, decimal_places=2, min_value=0)

    def to_internal_value(self, data):
        if isinstance(data, bool) or not isinstance(data, (int, float, str)):
            raise ValidationError("Нужно число или строка с числом.")
        return self.decimal.run_validation(data)

    def to_representation(self, value):
        return f"{value:.2f}"


class LeadFilterIn(serializers.Serializer):
    """The list's query parameters. Lists are comma-separated (`stage=3,4`) or repeated (`stage=3&stage=4`)."""

    stage = CommaSeparatedField(child=IdField(), required=False, max_length=100)
    stage_kind = CommaSeparatedField(child=serializers.ChoiceField(choices=StageKind.choices), required=False)
    temperature = CommaSeparatedField(child=serializers.ChoiceField(choices=Temperature.choices), required=False)
    assignee = AssigneeFilterField(required=False)
    ai = serializers.ChoiceField(choices=["on", "off"], required=False,
                                 help_text="`on`: the AI handles the lead; `off`: switched off or taken over.")
    channel = CommaSeparatedField(child=serializers.ChoiceField(choices=Channel.choices), required=False)
    source = TextListField(required=False)
    campaign = TextListField(required=False)
    q = serializers.CharField(required=False, allow_blank=True, max_length=200,
                              help_text="Name, city, phone digits or words of the dialog.")
    ordering = serializers.CharField(required=False, allow_blank=True, max_length=40,
                                     help_text=f"One of {', '.join(selectors.ORDERINGS)}; anything else sorts by "
                                               "-score.")
    created_from = serializers.DateField(required=False)
    created_to = serializers.DateField(required=False)
    needs_human = QueryBooleanField(required=False)
    waiting = QueryBooleanField(required=False, help_text="`true`: the client's message waits for our answer.")
    unread = QueryBooleanField(required=False, help_text="`true`: client messages the user has not seen.")
    page = serializers.IntegerField(required=False, min_value=1, max_value=1_000_000)
    page_size = serializers.IntegerField(required=False, min_value=1, max_value=Pagination.max_page_size)


class LeadListView(APIView):
    permission_classes = [IsTenantUser]
    pagination_class = Pagination  # the schema pages the list as the view does

    @extend_schema(parameters=[LeadFilterIn], responses=LeadOut(many=True))
    def get(self, request):
        params = query_params(request, LeadFilterIn)
        paginator = Pagination()
        page = paginator.paginate_queryset(selectors.leads_filtered(user=request.user, params=params), request,
                                           view=self)
        return paginator.get_paginated_response(LeadOut(page, many=True).data)


class LeadPatchIn(InputSerializer):
    name = serializers.CharField(required=False, allow_blank=True, max_length=150)
    phone = serializers.CharField(required=False, allow_blank=True, max_length=20)
    email = serializers.EmailField(required=False, allow_blank=True)
    city = serializers.CharField(required=False, allow_blank=True, max_length=100)
    source_info = serializers.CharField(required=False, allow_blank=True)
    ai_enabled = serializers.BooleanField(required=False)
    data = serializers.DictField(required=False)
    stage = IdField(required=False)
    assignee = IdField(required=False, allow_null=True)
    amount = AmountField(required=False, allow_null=True,
                         help_text="The deal's amount in the tenant's currency (a number or a decimal string, as the "
                                   "card gives it); null clears it.")


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
        events = list(lead.events.select_related("actor_user")[:500])
        return Response(LeadEventOut(events, many=True, context={"names": selectors.event_user_names(events)}).data)


class BoardColumnOut(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    kind = serializers.CharField()
    color = serializers.CharField()
    position = serializers.IntegerField()
    count = serializers.IntegerField()
    amount = serializers.DecimalField(max_digits=20, decimal_places=2, required=False,
                                      help_text="Sum of the deal amounts of the stage's leads (filters applied); "
                                                "absent with totals=false.")
    leads = LeadOut(many=True)


class BoardOut(serializers.Serializer):
    stages = BoardColumnOut(many=True)
    currency = serializers.CharField(help_text="ISO 4217 code of the amounts.")


class BoardIn(LeadFilterIn):
    """The list's filters (the totals and cards follow them) and how many cards per stage."""

    per_stage = serializers.IntegerField(required=False, default=30, min_value=0, max_value=200,
                                         help_text="Cards per stage.")
    totals = QueryBooleanField(required=False, default=True,
                               help_text="false: counts only, no sums of amounts (a client that shows no money).")


BOARD_FILTER_IGNORED = ("per_stage", "page", "page_size", "ordering", "totals")


class BoardView(APIView):
    permission_classes = [IsTenantUser]

    @extend_schema(parameters=[BoardIn], responses=BoardOut)
    def get(self, request):
        columns = []
        params = query_params(request, BoardIn)
        filters = {k: v for k, v in params.items() if k not in BOARD_FILTER_IGNORED}
        for column in selectors.board(user=request.user, per_stage=params["per_stage"], params=filters,
                                      totals=params["totals"]):
            data = StageOut(column["stage"]).data
            data["count"] = column["count"]
            if params["totals"]:
                data["amount"] = f"{column['amount']:.2f}"
            data["leads"] = LeadOut(column["leads"], many=True).data
            columns.append(data)
        return Response({"stages": columns, "currency": tenant_currency()})


class StageIn(InputSerializer):
    name = serializers.CharField(max_length=80)
    color = serializers.RegexField(r"^#[0-9a-fA-F]{6}$", required=False)
    position = serializers.IntegerField(required=False, min_value=0, max_value=2**31 - 1)  # the column's range


class StageDeleteIn(InputSerializer):
    move_to = IdField(required=False, help_text="The stage that takes this stage's leads (needed when it has any).")


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
        try:
            stage = services.stage_create(actor=services.user_actor(request.user), **data.validated_data)
        except ValueError as exc:
            raise ValidationError({"detail": str(exc)}) from None
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

    @extend_schema(parameters=[StageDeleteIn], responses={204: None})
    def delete(self, request, pk: int):
        stage = get_object_or_404(Stage, pk=pk)
        if stage.kind in ENGINE_STAGE_KINDS:
            raise ValidationError({"detail": services.STAGE_KEPT_MESSAGE})
        move_to_id = query_params(request, StageDeleteIn).get("move_to")
        if move_to_id is None and isinstance(request.data, dict) and request.data.get("move_to") not in (None, ""):
            body = StageDeleteIn(data=request.data)  # the PWA of old sent it in the body
            body.is_valid(raise_exception=True)
            move_to_id = body.validated_data["move_to"]
        move_to = None
        if move_to_id is not None:
            move_to = Stage.objects.filter(pk=move_to_id).first()
            if move_to is None:
                raise ValidationError({"move_to": [f"Нет такого этапа: {move_to_id}."]})
        try:
            services.stage_delete(stage=stage, move_to=move_to, actor=services.user_actor(request.user))
        except ValueError as exc:
            raise ValidationError({"move_to": [str(exc)]}) from None
        return Response(status=status.HTTP_204_NO_CONTENT)


class LeadReadOut(serializers.Serializer):
    read_count = serializers.IntegerField()
    unread = serializers.IntegerField()


class LeadReadView(APIView):
    """The user opened the lead's card: its client messages so far count as read by them."""

    permission_classes = [IsTenantUser]

    @extend_schema(request=None, responses=LeadReadOut)
    def post(self, request, pk: int):
        count = services.lead_mark_read(lead=visible_lead(request, pk), user=request.user)
        return Response({"read_count": count, "unread": 0})


class AssignmentRuleIO(serializers.Serializer):
    channel = serializers.CharField(required=False, allow_blank=True, max_length=100)
    source = serializers.CharField(required=False, allow_blank=True, max_length=100)
    city = serializers.CharField(required=False, allow_blank=True, max_length=100)
    user_id = serializers.IntegerField()


class AssignmentOut(serializers.Serializer):
    mode = serializers.ChoiceField(choices=AssignmentMode.choices)
    when = serializers.ChoiceField(choices=AssignmentWhen.choices)
    rules = AssignmentRuleIO(many=True)
    managers = serializers.ListField(child=serializers.DictField(), help_text="The active managers round-robin "
                                                                              "goes through, in turn order.")


class AssignmentRuleIn(InputSerializer):
    channel = serializers.ChoiceField(choices=Channel.choices, required=False, allow_blank=True)
    source = serializers.CharField(required=False, allow_blank=True, max_length=100)
    city = serializers.CharField(required=False, allow_blank=True, max_length=100)
    user_id = IdField(help_text="An active member of the team.")


class AssignmentIn(InputSerializer):
    mode = serializers.ChoiceField(choices=AssignmentMode.choices, required=False)
    when = serializers.ChoiceField(choices=AssignmentWhen.choices, required=False)
    rules = AssignmentRuleIn(many=True, required=False,
                             help_text=f"At most {assignment.MAX_RULES}; the first rule whose given conditions (at "
                                       "least one) all match names the assignee.")


def _assignment_out(found) -> dict:
    managers = [{"id": u.pk, "email": u.email, "full_name": u.full_name} for u in assignment.active_managers()]
    return {"mode": found.mode, "when": found.when, "rules": found.rules, "managers": managers}


class AssignmentView(APIView):
    """Automatic assignment settings: owners and heads only."""

    permission_classes = [IsOwnerOrHead]

    @extend_schema(responses=AssignmentOut)
    def get(self, request):
        return Response(_assignment_out(assignment.assignment_settings_get()))

    @extend_schema(request=AssignmentIn, responses=AssignmentOut)
    def patch(self, request):
        data = AssignmentIn(data=request.data)
        data.is_valid(raise_exception=True)
        try:
            values = dict(data.validated_data)
            if "rules" in values:
                values["rules"] = [dict(rule) for rule in values["rules"]]
            found = assignment.assignment_settings_update(user=request.user, **values)
        except DjangoValidationError as exc:
            raise ValidationError(exc.message_dict) from None
        return Response(_assignment_out(found))
