"""The content library API (owner and head write, managers read) and engagement figures: thin views."""
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.permissions import IsOwnerOrHead, IsTenantUser
from followups import selectors, services
from followups.models import Content, ContentType, FollowUpKind
from leads.models import StageKind, Temperature
from leads.services import user_actor

URL_TYPES = ("image", "video", "document", "link", "voice")


class AlbumItem(serializers.Serializer):
    url = serializers.URLField(max_length=1000)
    caption = serializers.CharField(required=False, allow_blank=True, max_length=1000)


class ContentIn(serializers.Serializer):
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


class ContentListView(APIView):
    def get_permissions(self):
        return [IsTenantUser()] if self.request.method == "GET" else [IsOwnerOrHead()]

    @extend_schema(parameters=[OpenApiParameter(name, kind, required=False)
                               for name, kind in (("active", bool), ("q", str), ("tag", str))],
                   responses=ContentOut(many=True))
    def get(self, request):
        active = request.query_params.get("active")
        active = None if active in (None, "") else active.lower() in ("1", "true", "yes")
        items = selectors.content_list(active=active, q=request.query_params.get("q", "")[:100],
                                       tag=request.query_params.get("tag", "")[:50])
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


class EngagementView(APIView):
    """Touches sent and answered per kind (engagement rate of re-engagement, follow-ups, onboarding)."""

    permission_classes = [IsOwnerOrHead]

    def get(self, request):
        return Response({"results": [selectors.engagement_stats(kind=kind) for kind in FollowUpKind.values]})
