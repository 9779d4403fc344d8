"""The content library API (owner and head write, managers read), engagement figures and a lead's follow-ups: thin
views."""
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.permissions import IsOwnerOrHead, IsTenantUser
from core.api import InputSerializer, QueryBooleanField, query_params
from followups import selectors, services
from followups.models import Content, ContentType, FollowUpKind
from leads.models import StageKind, Temperature
from leads.services import user_actor
from leads.views import visible_lead

URL_TYPES = ("image", "video", "document", "link", "voice")


class AlbumItem(InputSerializer):
    url = serializers.URLField(max_length=1000)
    caption = serializers.CharField(required=False, allow_blank=True, max_length=1000)


class ContentIn(InputSerializer):
    type = serializers.ChoiceField(choices=ContentType.choices)
    title = serializers.CharField(max_length=200)
    text = serializers.CharField(required=False, allow_blank=True, max_length=4096)
    url = serializers.URLField(required=False, allow_blank=True, max_length=1000)
    items = AlbumItem(many=True, required=False)
    tags = serializers.ListField(child=serializers.CharField(max_length=50), required=False, max_length=50)
    stages = serializers.ListField(child=serializers.ChoiceField(choices=StageKind.choices), required=False)
    temperatures = serializers.ListField(child=serializers.ChoiceField(choices=Temperature.choices), required=False)
    language = serializers.CharField(required=False, allow_blank=True, max_length=8)
    active = serializers.BooleanField(required=False)

    def validate_items(self, items):
        # A PATCH is partial down to its nested items, yet it replaces the whole album: each item needs its url.
        if any(not item.get("url") for item in items):
            raise ValidationError("Each album item needs a url.")
        return items

    def validate(self, attrs):
        merged = {**({f: getattr(self.instance, f) for f in ("type", "text", "url", "items")}
                     if self.instance is not None else {}), **attrs}
        kind = merged.get("type")
        if kind in URL_TYPES and not merged.get("url"):
            raise ValidationError({"url": [f"A {kind} item needs a URL."]})
        if kind == "album" and len(merged.get("items") or []) < 2:
            raise ValidationError({"items": ["An album needs at least two items."]})
        if kind == "text" and not (merged.get("text") or "").strip():
            raise ValidationError({"text": ["A text item needs text."]})
        return attrs


class ContentOut(serializers.ModelSerializer):
    class Meta:
        model = Content
        fields = ["id", "type", "title", "text", "url", "items", "tags", "stages", "temperatures", "language",
                  "active", "created_at", "updated_at"]


class ContentFilterIn(serializers.Serializer):
    active = QueryBooleanField(required=False)
    q = serializers.CharField(required=False, allow_blank=True, max_length=100, help_text="Words of title or text.")
    tag = serializers.CharField(required=False, allow_blank=True, max_length=50)


class ContentListView(APIView):
    def get_permissions(self):
        return [IsTenantUser()] if self.request.method == "GET" else [IsOwnerOrHead()]

    @extend_schema(parameters=[ContentFilterIn], responses=ContentOut(many=True))
    def get(self, request):
        params = query_params(request, ContentFilterIn)
        items = selectors.content_list(active=params.get("active"), q=params.get("q", ""), tag=params.get("tag", ""))
        return Response(ContentOut(items, many=True).data)

    @extend_schema(request=ContentIn, responses={201: ContentOut})
    def post(self, request):
        data = ContentIn(data=request.data)
        data.is_valid(raise_exception=True)
        content = services.content_create(actor=user_actor(request.user), **data.validated_data)
        return Response(ContentOut(content).data, status=status.HTTP_201_CREATED)


class ContentDetailView(APIView):
    def get_permissions(self):
        return [IsTenantUser()] if self.request.method == "GET" else [IsOwnerOrHead()]

    @extend_schema(responses=ContentOut)
    def get(self, request, pk: int):
        return Response(ContentOut(get_object_or_404(Content, pk=pk)).data)

    @extend_schema(request=ContentIn, responses=ContentOut)
    def patch(self, request, pk: int):
        content = get_object_or_404(Content, pk=pk)
        data = ContentIn(content, data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        content = services.content_update(content=content, actor=user_actor(request.user), **data.validated_data)
        return Response(ContentOut(content).data)

    @extend_schema(responses={204: None})
    def delete(self, request, pk: int):
        services.content_delete(content=get_object_or_404(Content, pk=pk), actor=user_actor(request.user))
        return Response(status=status.HTTP_204_NO_CONTENT)


class EngagementKindOut(serializers.Serializer):
    kind = serializers.CharField()
    sent = serializers.IntegerField()
    answered = serializers.IntegerField()
    rate = serializers.FloatField(help_text="0..1")


class EngagementOut(serializers.Serializer):
    results = EngagementKindOut(many=True)


class EngagementView(APIView):
    """Touches sent and answered per kind (engagement rate of re-engagement, follow-ups, onboarding)."""

    permission_classes = [IsOwnerOrHead]

    @extend_schema(responses=EngagementOut)
    def get(self, request):
        return Response({"results": [selectors.engagement_stats(kind=kind) for kind in FollowUpKind.values]})


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
        return Response(FollowUpOut(selectors.followups_of_lead(lead=lead), many=True).data)
