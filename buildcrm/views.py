"""Views of the web layer that read across apps: GET /api/analytics/summary/ (buildcrm.analytics). Thin."""
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.permissions import IsTenantUser
from buildcrm.analytics import analytics_summary


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
