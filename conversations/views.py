"""Messages of a lead and the sandbox channel: thin views over conversations.services."""
from django.conf import settings
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.exceptions import APIException, NotFound, ValidationError
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.permissions import IsOwnerOrHead, IsTenantUser
from conversations import selectors, services
from conversations.media import MediaRejected
from conversations.models import QuickReply
from conversations.serializers import LeadNoteOut, MessageOut, QuickReplyOut, ReplyWindowOut
from core.api import IdField, InputSerializer, query_params
from integrations import sandbox
from integrations.base import digits
from leads.views import visible_lead


class MessageIn(InputSerializer):
    text = serializers.CharField(required=False, allow_blank=True, max_length=4096, default="")
    image = serializers.FileField(required=False)
    template = serializers.CharField(required=False, max_length=512,
                                     help_text="The name of an approved WhatsApp template (GET reply-window lists "
                                               "them); sent with its variables filled from the lead, text ignored.")

    def validate(self, attrs):
        # A blank `template` in a form is dropped by DRF as if absent: still a request for a template, and a bad one.
        if "template" in self.initial_data and not attrs.get("template"):
            raise ValidationError({"template": ["Пустое имя шаблона."]})
        return attrs


class MessagesPageIn(serializers.Serializer):
    before = IdField(required=False, help_text="Only messages older than this message id.")
    limit = serializers.IntegerField(required=False, default=50, min_value=1, max_value=200)


class Refused(APIException):
    status_code = 400
    default_detail = "Не отправлено."
    default_code = "refused"


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

    @extend_schema(parameters=[MessagesPageIn], responses=MessageOut(many=True))
    def get(self, request, pk: int):
        lead = visible_lead(request, pk)
        params = query_params(request, MessagesPageIn)
        messages = selectors.messages_page(lead=lead, before=params.get("before"), limit=params["limit"])
        return Response(MessageOut(messages, many=True).data)

    @extend_schema(request={"multipart/form-data": MessageIn, "application/json": MessageIn},
                   responses={201: MessageOut})
    def post(self, request, pk: int):
        lead = visible_lead(request, pk)
        if _content_length(request) > settings.MEDIA_UPLOAD_MAX_BYTES + 64 * 1024:  # refused before parsing it
            raise PayloadTooLarge()
        data = MessageIn(data=request.data)
        data.is_valid(raise_exception=True)
        text, image = data.validated_data.get("text", "").strip(), data.validated_data.get("image")
        template = data.validated_data.get("template")
        if template is not None:
            if image:
                raise ValidationError({"template": ["Шаблон отправляется без фото."]})
            try:
                message = services.message_send_template_by_user(lead=lead, user=request.user, name=template)
            except services.ReplyRefused as exc:
                raise Refused(str(exc)) from None
            return Response(MessageOut(message).data, status=status.HTTP_201_CREATED)
        if not text and not image:
            raise ValidationError({"text": ["Пустое сообщение."]})
        try:
            services.check_free_text_allowed(lead)
        except services.ReplyRefused as exc:  # before the photo is stored: nothing is kept of a refused message
            raise Refused(str(exc)) from None
        try:
            # The photo's type comes from decoding it, never from the client's name or content type.
            base_url = request.build_absolute_uri("/")
            image_url = services.media_save_upload(upload=image, base_url=base_url) if image else ""
        except MediaRejected as exc:
            raise ValidationError({"image": [str(exc)]}) from None
        try:
            message = services.message_send_by_user(lead=lead, user=request.user, text=text, image_url=image_url)
        except services.ReplyRefused as exc:
            raise Refused(str(exc)) from None
        return Response(MessageOut(message).data, status=status.HTTP_201_CREATED)


# 7 to 15 digits among any spacing or punctuation ("+7 (701) 111-22-33"), as integrations.base.digits counts them.
PHONE_PATTERN = r"^\D*(\d\D*){7,15}$"


class SandboxIn(InputSerializer):
    phone = serializers.RegexField(PHONE_PATTERN, max_length=32)
    name = serializers.CharField(max_length=150, required=False, allow_blank=True, default="")
    text = serializers.CharField(max_length=4096)


class SandboxOut(serializers.Serializer):
    lead_id = serializers.IntegerField()
    message = MessageOut()


class SandboxDialogIn(serializers.Serializer):
    phone = serializers.RegexField(PHONE_PATTERN, max_length=32, help_text="The sandbox client's phone.")


class SandboxReceiptIn(InputSerializer):
    phone = serializers.RegexField(PHONE_PATTERN, max_length=32, help_text="The sandbox client's phone.")
    status = serializers.ChoiceField(choices=services.SANDBOX_RECEIPTS,
                                     help_text="delivered: the sandbox page received them; read: it shows them.")
    upto_id = IdField(required=False, help_text="The newest message the sandbox page has; later ones are untouched.")


class SandboxReceiptOut(serializers.Serializer):
    updated = serializers.IntegerField()


class SandboxReceiptsView(APIView):
    """Delivery and read receipts from the sandbox's phone simulator (the team plays the client)."""

    permission_classes = [IsTenantUser]

    @extend_schema(request=SandboxReceiptIn, responses={
        200: SandboxReceiptOut, 400: OpenApiResponse(description="A bad phone, status or upto_id."),
        404: OpenApiResponse(description="No sandbox dialog with this phone that this user may see.")})
    def post(self, request):
        data = SandboxReceiptIn(data=request.data)
        data.is_valid(raise_exception=True)
        lead_id = selectors.sandbox_lead_id(phone=digits(data.validated_data["phone"]), user=request.user)
        if lead_id is None:
            raise NotFound("No sandbox dialog with this phone.")
        updated = services.sandbox_receipts_apply(lead_id=lead_id, status=data.validated_data["status"],
                                                  upto_id=data.validated_data.get("upto_id"))
        return Response({"updated": updated})


class SandboxMessagesView(APIView):
    """The built-in test channel: the team plays a client; everything downstream is the real pipeline."""

    permission_classes = [IsTenantUser]

    @extend_schema(request=SandboxIn, responses={201: SandboxOut})
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

    @extend_schema(parameters=[SandboxDialogIn], responses=MessageOut(many=True))
    def get(self, request):
        phone = digits(query_params(request, SandboxDialogIn)["phone"])
        return Response(MessageOut(selectors.sandbox_dialog(phone=phone, user=request.user), many=True).data)


# --- chat tools (issue 16) ---------------------------------------------------------------------------------------


class QuickReplyIn(InputSerializer):
    title = serializers.CharField(max_length=80)
    text = serializers.CharField(max_length=4096)
    position = serializers.IntegerField(required=False, min_value=0, max_value=10_000)

    def validate_title(self, value: str) -> str:
        if not value.strip():
            raise ValidationError("Название не может быть пустым.")
        return value.strip()

    def validate_text(self, value: str) -> str:
        if not value.strip():
            raise ValidationError("Текст не может быть пустым.")
        return value.strip()


class QuickRepliesView(APIView):
    """Quick replies: every role reads them (the composer's picker), owners and heads manage them."""

    def get_permissions(self):
        return [IsTenantUser()] if self.request.method == "GET" else [IsOwnerOrHead()]

    @extend_schema(responses=QuickReplyOut(many=True))
    def get(self, request):
        return Response(QuickReplyOut(selectors.quick_replies_list(), many=True).data)

    @extend_schema(request=QuickReplyIn, responses={201: QuickReplyOut})
    def post(self, request):
        data = QuickReplyIn(data=request.data)
        data.is_valid(raise_exception=True)
        reply = services.quick_reply_create(user=request.user, **data.validated_data)
        return Response(QuickReplyOut(reply).data, status=status.HTTP_201_CREATED)


class QuickReplyDetailView(APIView):
    def get_permissions(self):
        return [IsTenantUser()] if self.request.method == "GET" else [IsOwnerOrHead()]

    @extend_schema(responses=QuickReplyOut)
    def get(self, request, pk: int):
        return Response(QuickReplyOut(get_object_or_404(QuickReply, pk=pk)).data)

    @extend_schema(request=QuickReplyIn, responses=QuickReplyOut)
    def patch(self, request, pk: int):
        reply = get_object_or_404(QuickReply, pk=pk)
        data = QuickReplyIn(data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        reply = services.quick_reply_update(reply=reply, user=request.user, **data.validated_data)
        return Response(QuickReplyOut(reply).data)

    @extend_schema(responses={204: None})
    def delete(self, request, pk: int):
        services.quick_reply_delete(reply=get_object_or_404(QuickReply, pk=pk), user=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


class NoteIn(InputSerializer):
    text = serializers.CharField(max_length=4096)

    def validate_text(self, value: str) -> str:
        if not value.strip():
            raise ValidationError("Пустая заметка.")
        return value.strip()


class LeadNotesView(APIView):
    """Internal notes on a lead: for whoever sees the lead; never sent to the client."""

    permission_classes = [IsTenantUser]

    @extend_schema(responses=LeadNoteOut(many=True))
    def get(self, request, pk: int):
        return Response(LeadNoteOut(selectors.notes_of_lead(lead=visible_lead(request, pk)), many=True).data)

    @extend_schema(request=NoteIn, responses={201: LeadNoteOut})
    def post(self, request, pk: int):
        lead = visible_lead(request, pk)
        data = NoteIn(data=request.data)
        data.is_valid(raise_exception=True)
        note = services.note_add(lead=lead, user=request.user, text=data.validated_data["text"])
        return Response(LeadNoteOut(note).data, status=status.HTTP_201_CREATED)


class LeadReplyWindowView(APIView):
    """Whether free text may reach the client now (WhatsApp Cloud API: 24 h after the client's last message) and the
    approved templates, filled for this lead, to send while it is closed."""

    permission_classes = [IsTenantUser]

    @extend_schema(responses=ReplyWindowOut)
    def get(self, request, pk: int):
        window = selectors.reply_window(lead=visible_lead(request, pk), user=request.user)
        return Response(ReplyWindowOut(window).data)
