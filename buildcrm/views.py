"""Views of the web layer that read across apps: GET /api/analytics/summary/ (buildcrm.analytics), the analytics
tables and their CSV export (buildcrm.analytics_tables). Thin."""
from django.http import HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.exceptions import NotFound
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.permissions import IsTenantUser
from buildcrm.analytics import analytics_summary
from buildcrm.analytics_tables import ACTIVE_DAYS, MAX_ACTIVE_DAYS, TABLES, analytics_tables, table_csv
from core.api import query_params


class AnalyticsPeriodOut(serializers.Serializer):
    to_date = serializers.DateField()
    timezone = serializers.CharField()

    def get_fields(self):  # "from" is a Python keyword: the field is named here
        fields = super().get_fields()
        return {"from": serializers.DateField(), "to": fields.pop("to_date"), **fields}


class AnalyticsFunnelOut(serializers.Serializer):
    stage = serializers.IntegerField()
    name = serializers.CharField()
    kind = serializers.CharField()
    count = serializers.IntegerField()


class AnalyticsConversionOut(serializers.Serializer):
    total = serializers.IntegerField()
    won = serializers.IntegerField()
    rate = serializers.FloatField(help_text="0..1")


class AnalyticsChannelOut(serializers.Serializer):
    channel = serializers.CharField()
    count = serializers.IntegerField()


class AnalyticsSourceOut(serializers.Serializer):
    source = serializers.CharField()
    count = serializers.IntegerField()


class AnalyticsResponseTimesOut(serializers.Serializer):
    avg = serializers.FloatField(allow_null=True)
    p50 = serializers.FloatField(allow_null=True)
    p90 = serializers.FloatField(allow_null=True)
    count = serializers.IntegerField()


class AnalyticsHandedOut(serializers.Serializer):
    count = serializers.IntegerField()
    share = serializers.FloatField(help_text="0..1")


class AnalyticsTouchesOut(serializers.Serializer):
    sent = serializers.IntegerField()
    answered = serializers.IntegerField()
    rate = serializers.FloatField(help_text="0..1")


class AnalyticsDayOut(serializers.Serializer):
    date = serializers.DateField()
    leads = serializers.IntegerField()
    won = serializers.IntegerField()


class AnalyticsOut(serializers.Serializer):
    """GET /api/analytics/summary/ (buildcrm.analytics.analytics_summary), for the schema."""

    period = AnalyticsPeriodOut()
    funnel = AnalyticsFunnelOut(many=True)
    conversion = AnalyticsConversionOut()
    by_channel = AnalyticsChannelOut(many=True)
    by_source = AnalyticsSourceOut(many=True)
    ai_first_response_seconds = AnalyticsResponseTimesOut()
    handed_to_human = AnalyticsHandedOut()
    followups = AnalyticsTouchesOut()
    reengagement = AnalyticsTouchesOut()
    by_day = AnalyticsDayOut(many=True)


class AnalyticsView(APIView):
    permission_classes = [IsTenantUser]

    @extend_schema(parameters=[
        OpenApiParameter("from", OpenApiTypes.DATE, description="First local day (default: 30 days before `to`)."),
        OpenApiParameter("to", OpenApiTypes.DATE, description="Last local day (default: today).")],
        responses=AnalyticsOut)
    def get(self, request):
        return Response(analytics_summary(user=request.user, date_from=request.query_params.get("from"),
                                          date_to=request.query_params.get("to")))


class AnalyticsTablesIn(serializers.Serializer):
    active_days = serializers.IntegerField(required=False, default=ACTIVE_DAYS, min_value=1, max_value=MAX_ACTIVE_DAYS,
                                           help_text="Active conversations: messages both ways within these days.")


class AnalyticsExportIn(AnalyticsTablesIn):
    lang = serializers.ChoiceField(choices=["ru", "en"], required=False, default="ru", help_text="CSV header language.")


class AnalyticsTableOut(serializers.Serializer):
    columns = serializers.ListField(child=serializers.CharField())
    rows = serializers.ListField(child=serializers.DictField(), help_text="One object per row, keyed by `columns`.")


class AnalyticsTablesOut(serializers.Serializer):
    """GET /api/analytics/tables/ (buildcrm.analytics_tables.analytics_tables), for the schema."""

    period = AnalyticsPeriodOut()
    currency = serializers.CharField()
    active_days = serializers.IntegerField()
    tables = serializers.DictField(child=AnalyticsTableOut(), help_text=f"Keys: {', '.join(TABLES)}.")


PERIOD_PARAMETERS = [
    OpenApiParameter("from", OpenApiTypes.DATE, description="First local day of the cohort (default: 30 days before "
                                                            "`to`)."),
    OpenApiParameter("to", OpenApiTypes.DATE, description="Last local day (default: today).")]


class AnalyticsTablesView(APIView):
    """Owners and heads: every lead; managers: the leads assigned to them."""

    permission_classes = [IsTenantUser]

    @extend_schema(parameters=[*PERIOD_PARAMETERS, AnalyticsTablesIn], responses=AnalyticsTablesOut)
    def get(self, request):
        params = query_params(request, AnalyticsTablesIn)
        return Response(analytics_tables(user=request.user, date_from=request.query_params.get("from"),
                                         date_to=request.query_params.get("to"), active_days=params["active_days"]))


class AnalyticsExportView(APIView):
    """One table as CSV (UTF-8 with a BOM for Excel)."""

    permission_classes = [IsTenantUser]

    @extend_schema(parameters=[OpenApiParameter("table", OpenApiTypes.STR, OpenApiParameter.PATH, enum=list(TABLES)),
                               *PERIOD_PARAMETERS, AnalyticsExportIn],
                   responses={(200, "text/csv"): OpenApiTypes.STR, 404: OpenApiResponse(description="No such table.")})
    def get(self, request, table: str):
        params = query_params(request, AnalyticsExportIn)
        if table not in TABLES:
            raise NotFound(f"Нет такой таблицы: {table[:40]}. Есть: {', '.join(TABLES)}.")
        data = analytics_tables(user=request.user, date_from=request.query_params.get("from"),
                                date_to=request.query_params.get("to"), active_days=params["active_days"], only=table)
        period = data["period"]
        response = HttpResponse(table_csv(name=table, rows=data["tables"][table]["rows"], lang=params["lang"]),
                                content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="{table}_{period["from"]}_{period["to"]}.csv"'
        return response
