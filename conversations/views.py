"""Messages of a lead and the sandbox channel: thin views over conversations.services."""
from django.conf import settings
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.exceptions import APIException, ValidationError
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.permissions import IsTenantUser
from conversations import selectors, services
from conversations.media import MediaRejected
from conversations.serializers import MessageOut
from integrations import sandbox
from integrations.base import digits
from leads.views import visible_lead


class MessageIn(serializers.Serializer):
    text = serializers.CharField(required=False, allow_blank=True, max_length=4096, default="")
    image = serializers.FileField(required=False)


class PayloadTooLarge(APIException):
    status_code = 413
    default_detail = "image: файл слишком большой."
    default_code = "too_large"


def _content_length(request) -> int:
    try:
        return int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return 0


class LeadMessagesView(APIView):
    permission_classes = [IsTenantUser]

    @extend_schema(responses=MessageOut(many=True))
    def get(self, request, pk: int):
        lead = visible_lead(request, pk)
        before = request.query_params.get("before")
        limit = request.query_params.get("limit") or "50"
        if not limit.isdigit() or not 1 <= int(limit) <= 200:
            raise ValidationError({"limit": ["Целое число от 1 до 200."]})
        limit = int(limit)
        messages = selectors.messages_page(lead=lead, before=int(before) if str(before or "").isdigit() else None,
                                           limit=limit)
        return Response(MessageOut(messages, many=True).data)

    @extend_schema(request=MessageIn, responses={201: MessageOut})
    def post(self, request, pk: int):
        lead = visible_lead(request, pk)
        if _content_length(request) > settings.MEDIA_UPLOAD_MAX_BYTES + 64 * 1024:  # refused before parsing it
            raise PayloadTooLarge()
        data = MessageIn(data=request.data)
        data.is_valid(raise_exception=True)
        text, image = data.validated_data.get("text", "").strip(), data.validated_data.get("image")
        if not text and not image:
            raise ValidationError({"text": ["Пустое сообщение."]})
        try:
            # The photo's type comes from decoding it, never from the client's name or content type.
            base_url = request.build_absolute_uri("/")
            image_url = services.media_save_upload(upload=image, base_url=base_url) if image else ""
        except MediaRejected as exc:
            raise ValidationError({"image": [str(exc)]}) from None
        message = services.message_send_by_user(lead=lead, user=request.user, text=text, image_url=image_url)
        return Response(MessageOut(message).data, status=status.HTTP_201_CREATED)


class SandboxIn(serializers.Serializer):
    phone = serializers.CharField(max_length=32)
    name = serializers.CharField(max_length=150, required=False, allow_blank=True, default="")
    text = serializers.CharField(max_length=4096)


class SandboxMessagesView(APIView):
    """The built-in test channel: the team plays a client; everything downstream is the real pipeline."""

    permission_classes = [IsTenantUser]

    @extend_schema(request=SandboxIn, responses={201: MessageOut})
    def post(self, request):
        data = SandboxIn(data=request.data)
        data.is_valid(raise_exception=True)
        if not 7 <= len(digits(data.validated_data["phone"])) <= 15:
            raise ValidationError({"phone": ["Телефон: от 7 до 15 цифр."]})
        try:
            item = sandbox.inbound(data.validated_data["phone"], data.validated_data["name"],
                                   data.validated_data["text"])
        except ValueError as exc:
            raise ValidationError({"phone": [str(exc)]}) from None
        message = services.inbound_receive_now(provider="sandbox", item=item, raw=request.data, source="sandbox")
        return Response({"lead_id": message.lead_id, "message": MessageOut(message).data},
                        status=status.HTTP_201_CREATED)

    @extend_schema(responses=MessageOut(many=True))
    def get(self, request):
        phone = digits(request.query_params.get("phone", ""))
        if not 7 <= len(phone) <= 15:
            raise ValidationError({"phone": ["Укажите телефон: от 7 до 15 цифр."]})
        return Response(MessageOut(selectors.sandbox_dialog(phone=phone, user=request.user), many=True).data)
