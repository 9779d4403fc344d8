"""Leads, board and stages API: thin views over leads.services / leads.selectors."""
import json
import logging

from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import HttpResponse
from django.shortcuts import get_object_or_404
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
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
from core.api_errors import PayloadTooLarge
from core.spreadsheet import csv_bytes
from leads import assignment, csvio, selectors, services
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
from leads.values import TAG_MAX_CHARS, TAGS_PER_LEAD
from tenants.selectors import tenant_currency

log = logging.getLogger("buildcrm.leads")


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
    tag = TextListField(required=False, help_text="Leads carrying every one of these tags.")
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


class LeadCreateIn(InputSerializer):
    name = serializers.CharField(required=False, allow_blank=True, max_length=150)
    phone = serializers.CharField(required=False, allow_blank=True, max_length=40,
                                  help_text="E.164 digits, typed freely: +7 (701) 111-22-33.")
    channel = serializers.ChoiceField(choices=Channel.choices, required=False, default=Channel.WHATSAPP)
    source = serializers.CharField(required=False, allow_blank=True, max_length=32)
    city = serializers.CharField(required=False, allow_blank=True, max_length=100)
    assignee = IdField(required=False, allow_null=True)
    stage = IdField(required=False, allow_null=True)
    tags = serializers.ListField(child=serializers.CharField(max_length=TAG_MAX_CHARS, allow_blank=True),
                                 required=False, max_length=TAGS_PER_LEAD)


class LeadDuplicateOut(serializers.Serializer):
    detail = serializers.CharField()
    existing = LeadOut(allow_null=True, help_text="The lead with this phone, when the user may see it.")


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

    @extend_schema(request=LeadCreateIn, responses={201: LeadCardOut, 409: LeadDuplicateOut})
    def post(self, request):
        """A lead entered by hand. The AI does not greet it. A phone another lead has → 409 with that lead (when
        the user may see it) to open instead of a second one."""
        data = LeadCreateIn(data=request.data)
        data.is_valid(raise_exception=True)
        values = dict(data.validated_data)
        try:
            lead = services.lead_create_by_hand(user=request.user, assignee_id=values.pop("assignee", None),
                                                stage_id=values.pop("stage", None), **values)
        except services.DuplicatePhone as exc:
            visible = selectors.leads_visible_to(user=request.user).filter(pk=exc.lead.pk).first()
            return Response({"detail": "Заявка с этим телефоном уже есть / A lead with this phone exists",
                             "existing": LeadOut(visible).data if visible else None}, status=status.HTTP_409_CONFLICT)
        lead = selectors.leads_visible_to(user=request.user).get(pk=lead.pk)
        return Response(LeadCardOut(lead).data, status=status.HTTP_201_CREATED)


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
    tags = serializers.ListField(child=serializers.CharField(max_length=TAG_MAX_CHARS, allow_blank=True),
                                 required=False, max_length=TAGS_PER_LEAD,
                                 help_text="The lead's tags as a whole (the chips on the card).")


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
# --- CRM basics: export, import, bulk actions (issue 16) -----------------------------------------------------------

class LeadExportIn(LeadFilterIn):
    page = None
    page_size = None


class LeadExportView(APIView):
    """The list as filtered, as a CSV file (UTF-8 with a BOM): the same filters, the same visibility — a manager
    who sees only their own leads exports only those."""

    permission_classes = [IsTenantUser]

    @extend_schema(parameters=[LeadExportIn], responses={(200, "text/csv"): OpenApiTypes.BINARY})
    def get(self, request):
        params = query_params(request, LeadExportIn)
        header, rows = selectors.leads_export_rows(user=request.user, params=params)
        response = HttpResponse(csv_bytes(header, rows), content_type="text/csv; charset=utf-8")
        stamp = timezone.localdate().isoformat()
        response["Content-Disposition"] = f'attachment; filename="leads-{stamp}.csv"'
        log.info("leads exported rows=%s by=%s", len(rows), request.user.email)
        return response


class LeadImportIn(serializers.Serializer):
    file = serializers.FileField(help_text=f"A CSV file up to {csvio.MAX_BYTES // 1024 // 1024} MB and "
                                           f"{csvio.MAX_ROWS} rows: UTF-8 (with or without a BOM), UTF-16 or "
                                           "Windows-1251; comma, semicolon or tab.")
    mapping = serializers.CharField(required=False, max_length=2000,
                                    help_text='Field → column index as JSON, e.g. {"name": 0, "phone": 2}; '
                                              "guessed from the headers when absent.")


class ImportRowErrorOut(serializers.Serializer):
    line = serializers.IntegerField()
    errors = serializers.ListField(child=serializers.CharField())


class LeadImportPreviewOut(serializers.Serializer):
    encoding = serializers.CharField()
    delimiter = serializers.CharField()
    headers = serializers.ListField(child=serializers.CharField())
    mapping = serializers.DictField(child=serializers.IntegerField())
    fields = serializers.ListField(child=serializers.CharField(), help_text="The fields a column may map to.")
    sample = serializers.ListField(child=serializers.ListField(child=serializers.CharField()))
    rows = serializers.IntegerField()
    valid = serializers.IntegerField()
    invalid = serializers.IntegerField()
    new = serializers.IntegerField()
    merge_existing = serializers.IntegerField(help_text="Rows whose phone a lead has: its empty fields get filled.")
    merge_in_file = serializers.IntegerField(help_text="Rows folded into an earlier row of the file with the phone.")
    errors = ImportRowErrorOut(many=True)


class LeadImportOut(serializers.Serializer):
    created = serializers.IntegerField()
    updated = serializers.IntegerField()
    unchanged = serializers.IntegerField()
    invalid = serializers.IntegerField()
    merge_in_file = serializers.IntegerField()
    errors = ImportRowErrorOut(many=True)


def _import_read(request) -> tuple[csvio.CsvTable, dict[str, int], list[csvio.ImportRow]]:
    """The uploaded file read and checked (a 400 or a 413 saying why the file as a whole is refused)."""
    data = LeadImportIn(data=request.data)
    data.is_valid(raise_exception=True)
    upload = data.validated_data["file"]
    if upload.size > csvio.MAX_BYTES:
        raise PayloadTooLarge(f"Файл больше {csvio.MAX_BYTES // 1024 // 1024} МБ / The file is over "
                              f"{csvio.MAX_BYTES // 1024 // 1024} MB")
    try:
        table = csvio.read_table(upload.read(csvio.MAX_BYTES + 1))
    except csvio.CsvRejected as exc:
        raise ValidationError({"file": [str(exc)]}) from None
    raw_mapping = data.validated_data.get("mapping")
    if raw_mapping:
        try:
            mapping = json.loads(raw_mapping)
        except (ValueError, RecursionError):  # 2,000 characters of "[" nest deeper than the parser goes
            raise ValidationError({"mapping": ["Нужен JSON-объект / A JSON object is needed"]}) from None
        if not isinstance(mapping, dict):
            raise ValidationError({"mapping": ["Нужен JSON-объект / A JSON object is needed"]})
    else:
        mapping = csvio.mapping_guess(table.headers)
    try:
        mapping = csvio.mapping_check(mapping, table.headers)
    except ValueError as exc:
        raise ValidationError({"mapping": [str(exc)]}) from None
    return table, mapping, csvio.rows_check(table, mapping)


def _row_errors(rows: list[csvio.ImportRow]) -> list[dict]:
    return [{"line": row.line, "errors": row.errors} for row in rows if row.errors][:csvio.MAX_ERRORS_SHOWN]


class LeadImportPreviewView(APIView):
    """Step one of a CSV import (owner, head): the guessed column mapping, the first rows, and what the import
    would do — new leads, merges into leads with the same phone, rows refused and why. Nothing is written."""

    permission_classes = [IsOwnerOrHead]

    @extend_schema(request={"multipart/form-data": LeadImportIn}, responses=LeadImportPreviewOut)
    def post(self, request):
        table, mapping, rows = _import_read(request)
        merged, folded = csvio.rows_merge(rows)
        existing = selectors.leads_by_phone(phones={r.values["phone"] for r in merged if r.values.get("phone")})
        merge_existing = sum(1 for r in merged if r.values.get("phone") in existing)
        invalid = sum(1 for r in rows if r.errors)
        return Response({
            "encoding": table.encoding, "delimiter": table.delimiter, "headers": table.headers, "mapping": mapping,
            "fields": list(csvio.IMPORT_FIELDS),
            "sample": [[cell[:100] for cell in record[:len(table.headers) or 20]]
                       for record in table.rows[:csvio.SAMPLE_ROWS]],
            "rows": len(rows), "valid": len(rows) - invalid, "invalid": invalid,
            "new": len(merged) - merge_existing, "merge_existing": merge_existing, "merge_in_file": folded,
            "errors": _row_errors(rows),
        })


class LeadImportView(APIView):
    """Step two (owner, head): the same file and the mapping the person confirmed; the valid rows are imported,
    duplicates merged by phone (empty fields filled, nothing overwritten). The AI does not write to them."""

    permission_classes = [IsOwnerOrHead]

    @extend_schema(request={"multipart/form-data": LeadImportIn}, responses=LeadImportOut)
    def post(self, request):
        _, _, rows = _import_read(request)
        merged, folded = csvio.rows_merge(rows)
        result = services.leads_import(user=request.user, rows=[r.values for r in merged])
        return Response({**result, "invalid": sum(1 for r in rows if r.errors), "merge_in_file": folded,
                         "errors": _row_errors(rows)})


class LeadBulkIn(InputSerializer):
    ids = serializers.ListField(child=IdField(), min_length=1, max_length=services.BULK_MAX_IDS)
    action = serializers.ChoiceField(choices=services.BULK_ACTIONS)
    assignee = IdField(required=False, allow_null=True, help_text="For `assign`: a user's id, null to unassign.")
    stage = IdField(required=False, help_text="For `move`.")
    tag = serializers.CharField(required=False, max_length=TAG_MAX_CHARS, help_text="For `tag`.")


class LeadBulkOut(serializers.Serializer):
    updated = serializers.IntegerField()
    unchanged = serializers.IntegerField()
    skipped = serializers.IntegerField(help_text="Ids the user may not see, or that do not exist.")


class LeadBulkView(APIView):
    """One action on the selected rows of the list: assign, move to a stage, add a tag. Each lead is checked for
    visibility; a manager may assign only to themselves."""

    permission_classes = [IsTenantUser]

    @extend_schema(request=LeadBulkIn, responses=LeadBulkOut)
    def post(self, request):
        data = LeadBulkIn(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        result = services.leads_bulk(user=request.user, lead_ids=values["ids"], action=values["action"],
                                     assignee_id=values.get("assignee"), stage_id=values.get("stage"),
                                     tag=values.get("tag", ""))
        return Response(result)
