"""Auth and team endpoints: thin views over accounts.services."""
from django.contrib.auth import login, logout
from django.db import connection
from django.shortcuts import get_object_or_404
from django.utils.decorators import method_decorator
from django.views.decorators.csrf import ensure_csrf_cookie
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.exceptions import Throttled
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts import services
from accounts.models import Role, User
from accounts.permissions import IsOwnerOrHead, IsTenantUser
from buildcrm.api import InputSerializer
from buildcrm.api_schema import ERROR


class UserOut(serializers.ModelSerializer):
    class Meta:
        model = User
        fields = ["id", "email", "full_name", "role", "is_active"]


class CredentialsIn(InputSerializer):
    email = serializers.CharField()
    password = serializers.CharField()


class TokenOut(serializers.Serializer):
    token = serializers.CharField()
    user = UserOut()


def _client_ip(request) -> str:
    return request.META.get("REMOTE_ADDR") or "?"


def _checked_user(request) -> User:
    data = CredentialsIn(data=request.data)
    data.is_valid(raise_exception=True)
    try:
        return services.login_check(ip=_client_ip(request), **data.validated_data)
    except services.LoginThrottled:
        raise Throttled(detail="Слишком много неудачных попыток входа. Попробуйте позже.") from None


# A wrong password (401), a disabled account (403), too many failures (429).
LOGIN_ERRORS = {401: ERROR, 403: ERROR, 429: ERROR}


class _LoginBase(APIView):
    permission_classes = [AllowAny]
    authentication_classes: list = []

    def handle_exception(self, exc):
        if isinstance(exc, services.LoginRefused):
            return Response({"detail": exc.detail}, status=exc.status)
        return super().handle_exception(exc)


class TokenView(_LoginBase):
    @extend_schema(request=CredentialsIn, responses={200: TokenOut, **LOGIN_ERRORS})
    def post(self, request):
        user = _checked_user(request)
        return Response({"token": services.token_for(user), "user": UserOut(user).data})


class LoginView(_LoginBase):
    @extend_schema(request=CredentialsIn, responses={200: UserOut, **LOGIN_ERRORS})
    def post(self, request):
        user = _checked_user(request)
        login(request._request, user, backend="django.contrib.auth.backends.ModelBackend")
        return Response(UserOut(user).data)


class LogoutView(APIView):
    permission_classes = [AllowAny]

    @extend_schema(request=None, responses={204: None})
    def post(self, request):
        logout(request._request)
        return Response(status=status.HTTP_204_NO_CONTENT)


@method_decorator(ensure_csrf_cookie, name="get")
class CsrfView(APIView):
    permission_classes = [AllowAny]
    authentication_classes: list = []

    @extend_schema(responses={204: None})
    def get(self, request):
        return Response(status=status.HTTP_204_NO_CONTENT)


class MeOut(UserOut):
    tenant = serializers.SerializerMethodField()

    class Meta(UserOut.Meta):
        fields = UserOut.Meta.fields + ["tenant"]

    def get_tenant(self, obj) -> dict:
        tenant = connection.tenant
        return {"slug": tenant.slug, "name": tenant.name}


class MeView(APIView):
    permission_classes = [IsTenantUser]

    @extend_schema(responses=MeOut)
    def get(self, request):
        return Response(MeOut(request.user).data)


class UserCreateIn(InputSerializer):
    email = serializers.EmailField()
    password = serializers.CharField()
    role = serializers.ChoiceField(choices=Role.choices)
    full_name = serializers.CharField(required=False, allow_blank=True, default="")


class UserUpdateIn(InputSerializer):
    full_name = serializers.CharField(required=False, allow_blank=True)
    role = serializers.ChoiceField(choices=Role.choices, required=False)
    is_active = serializers.BooleanField(required=False)
    password = serializers.CharField(required=False)


class UserListView(APIView):
    permission_classes = [IsOwnerOrHead]

    @extend_schema(responses=UserOut(many=True))
    def get(self, request):
        return Response(UserOut(User.objects.exclude(role=""), many=True).data)

    @extend_schema(request=UserCreateIn, responses={201: UserOut})
    def post(self, request):
        data = UserCreateIn(data=request.data)
        data.is_valid(raise_exception=True)
        user = services.user_create(actor=request.user, **data.validated_data)
        return Response(UserOut(user).data, status=status.HTTP_201_CREATED)


class UserDetailView(APIView):
    permission_classes = [IsOwnerOrHead]

    @extend_schema(responses=UserOut)
    def get(self, request, pk: int):
        return Response(UserOut(get_object_or_404(User.objects.exclude(role=""), pk=pk)).data)

    @extend_schema(request=UserUpdateIn, responses=UserOut)
    def patch(self, request, pk: int):
        user = get_object_or_404(User.objects.exclude(role=""), pk=pk)
        data = UserUpdateIn(data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        user = services.user_update(actor=request.user, user=user, **data.validated_data)
        return Response(UserOut(user).data)
