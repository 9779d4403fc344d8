"""The knowledge base API: owners and heads read and write, managers read (they answer the same clients and should
know what the AI quotes); thin views over knowledge.services / selectors."""

from __future__ import annotations

from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.permissions import IsOwnerOrHead, IsTenantUser
from core.api import InputSerializer
from knowledge import selectors, services
from knowledge.models import QA, DeliveryRule, PriceItem, Term
from leads.services import user_actor


def _keywords() -> serializers.ListField:
    return serializers.ListField(
        child=serializers.CharField(trim_whitespace=False, max_length=services.KEYWORD_CHARS, allow_blank=True),
        required=False,
        max_length=services.MAX_KEYWORDS,
    )


PRICE = {
    "max_digits": 14,
    "decimal_places": 2,
    "min_value": 0,
    "required": False,
    "allow_null": True,
    "coerce_to_string": False,
}


class QAIn(InputSerializer):
    question = serializers.CharField(trim_whitespace=False, max_length=300)
    answer = serializers.CharField(trim_whitespace=False, max_length=2000)
    answer_en = serializers.CharField(trim_whitespace=False, max_length=2000, required=False, allow_blank=True)
    keywords = _keywords()


class QAOut(serializers.ModelSerializer):
    class Meta:
        model = QA
        fields = ["id", "question", "answer", "answer_en", "keywords", "updated_at"]


class PriceIn(InputSerializer):
    item = serializers.CharField(trim_whitespace=False, max_length=200)
    unit = serializers.CharField(trim_whitespace=False, max_length=20, required=False, allow_blank=True)
    price_from = serializers.DecimalField(**PRICE)
    price_to = serializers.DecimalField(**PRICE)
    currency = serializers.RegexField(
        r"^[A-Za-z]{3}$", trim_whitespace=False, required=False, help_text="ISO 4217, e.g. KZT"
    )
    keywords = _keywords()
    note = serializers.CharField(trim_whitespace=False, max_length=500, required=False, allow_blank=True)


class PriceOut(serializers.ModelSerializer):
    price_from = serializers.DecimalField(max_digits=14, decimal_places=2, coerce_to_string=False, allow_null=True)
    price_to = serializers.DecimalField(max_digits=14, decimal_places=2, coerce_to_string=False, allow_null=True)

    class Meta:
        model = PriceItem
        fields = ["id", "item", "unit", "price_from", "price_to", "currency", "keywords", "note", "updated_at"]


class DeliveryIn(InputSerializer):
    city = serializers.CharField(
        trim_whitespace=False,
        max_length=100,
        required=False,
        allow_blank=True,
        help_text="Empty: the rule for every other city.",
    )
    text = serializers.CharField(trim_whitespace=False, max_length=1000)
    text_en = serializers.CharField(trim_whitespace=False, max_length=1000, required=False, allow_blank=True)


class DeliveryOut(serializers.ModelSerializer):
    class Meta:
        model = DeliveryRule
        fields = ["id", "city", "text", "text_en", "updated_at"]


class TermIn(InputSerializer):
    title = serializers.CharField(trim_whitespace=False, max_length=200)
    text = serializers.CharField(trim_whitespace=False, max_length=2000)
    text_en = serializers.CharField(trim_whitespace=False, max_length=2000, required=False, allow_blank=True)
    keywords = _keywords()


class TermOut(serializers.ModelSerializer):
    class Meta:
        model = Term
        fields = ["id", "title", "text", "text_en", "keywords", "updated_at"]


class KnowledgeOut(serializers.Serializer):
    qa = QAOut(many=True)
    prices = PriceOut(many=True)
    delivery = DeliveryOut(many=True)
    terms = TermOut(many=True)


def _read_or_write(request) -> list:
    return [IsTenantUser()] if request.method == "GET" else [IsOwnerOrHead()]


class KnowledgeView(APIView):
    """The whole knowledge base in one answer (the PWA's screen)."""

    def get_permissions(self):
        return [IsTenantUser()]

    @extend_schema(responses=KnowledgeOut)
    def get(self, request):
        return Response(
            {
                "qa": QAOut(selectors.qa_list(), many=True).data,
                "prices": PriceOut(selectors.price_list(), many=True).data,
                "delivery": DeliveryOut(selectors.delivery_list(), many=True).data,
                "terms": TermOut(selectors.term_list(), many=True).data,
            }
        )


def _write(call):
    try:
        return call()
    except services.KnowledgeError as exc:
        raise ValidationError({exc.field: [exc.message]}) from None


def _views(kind: str, model, serializer_in, serializer_out, listing) -> tuple[type[APIView], type[APIView]]:
    """The list/create and detail/change/delete views of one kind of entry (their own classes for the schema)."""

    class ListView(APIView):
        def get_permissions(self):
            return _read_or_write(self.request)

        @extend_schema(responses=serializer_out(many=True), operation_id=f"knowledge_{kind}_list")
        def get(self, request):
            return Response(serializer_out(listing(), many=True).data)

        @extend_schema(request=serializer_in, responses={201: serializer_out}, operation_id=f"knowledge_{kind}_create")
        def post(self, request):
            data = serializer_in(data=request.data)
            data.is_valid(raise_exception=True)
            entry = _write(
                lambda: services.entry_create(kind=kind, actor=user_actor(request.user), **data.validated_data)
            )
            return Response(serializer_out(entry).data, status=status.HTTP_201_CREATED)

    class DetailView(APIView):
        def get_permissions(self):
            return _read_or_write(self.request)

        @extend_schema(responses=serializer_out, operation_id=f"knowledge_{kind}_retrieve")
        def get(self, request, pk: int):
            return Response(serializer_out(get_object_or_404(model, pk=pk)).data)

        @extend_schema(request=serializer_in, responses=serializer_out, operation_id=f"knowledge_{kind}_update")
        def patch(self, request, pk: int):
            entry = get_object_or_404(model, pk=pk)
            data = serializer_in(data=request.data, partial=True)
            data.is_valid(raise_exception=True)
            entry = _write(
                lambda: services.entry_update(
                    kind=kind, entry=entry, actor=user_actor(request.user), **data.validated_data
                )
            )
            return Response(serializer_out(entry).data)

        @extend_schema(responses={204: None}, operation_id=f"knowledge_{kind}_destroy")
        def delete(self, request, pk: int):
            services.entry_delete(kind=kind, entry=get_object_or_404(model, pk=pk), actor=user_actor(request.user))
            return Response(status=status.HTTP_204_NO_CONTENT)

    name = {"qa": "QA", "prices": "Price", "delivery": "Delivery", "terms": "Term"}[kind]
    ListView.__name__ = ListView.__qualname__ = f"Knowledge{name}ListView"
    DetailView.__name__ = DetailView.__qualname__ = f"Knowledge{name}DetailView"
    return ListView, DetailView


QAListView, QADetailView = _views("qa", QA, QAIn, QAOut, selectors.qa_list)
PriceListView, PriceDetailView = _views("prices", PriceItem, PriceIn, PriceOut, selectors.price_list)
DeliveryListView, DeliveryDetailView = _views(
    "delivery", DeliveryRule, DeliveryIn, DeliveryOut, selectors.delivery_list
)
TermListView, TermDetailView = _views("terms", Term, TermIn, TermOut, selectors.term_list)
