"""Auth and team endpoints: thin views over accounts.services."""
from django.contrib.auth import login, logout, update_session_auth_hash
from django.db import connection
from django.shortcuts import get_object_or_404
from django.utils import translation
from django.utils.decorators import method_decorator
from django.views.decorators.csrf import ensure_csrf_cookie
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.authentication import SessionAuthentication, TokenAuthentication
from rest_framework.exceptions import Throttled
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts import services
from accounts.models import Role, User
from accounts.permissions import IsOwnerOrHead, IsTenantUser
from core.api import InputSerializer
from core.api_schema import ERROR
from core.proxies import client_ip
from tenants.selectors import tenant_config_current, tenant_currency


class UserOut(serializers.ModelSerializer):
    class Meta:
        model = User
        fields = ["id", "email", "full_name", "role", "is_active"]


class CredentialsIn(InputSerializer):
    email = serializers.CharField(max_length=254)
    password = serializers.CharField(max_length=1024, trim_whitespace=False)


class TokenOut(serializers.Serializer):
    token = serializers.CharField()
    user = UserOut()


def _throttled(exc: services.LoginThrottled) -> Throttled:
    return Throttled(wait=exc.retry_after, detail="Слишком много неудачных попыток входа. Попробуйте позже.")


def _checked_user(request) -> User:
    data = CredentialsIn(data=request.data)
    data.is_valid(raise_exception=True)
    try:
        return services.login_check(ip=client_ip(request), **data.validated_data)
    except services.LoginThrottled as exc:
        raise _throttled(exc) from None


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
    """Session login (the PWA): CSRF-protected like every other cookie-authenticated write, so no other site can
    sign a browser in to an account of its choosing. API clients use /api/auth/token/ (no cookies, no CSRF)."""

    @extend_schema(request=CredentialsIn, responses={200: UserOut, **LOGIN_ERRORS})
    def post(self, request):
        SessionAuthentication().enforce_csrf(request)
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
        # The tenant's zone: the PWA shows task times and "today" on the tenant's wall clock; currency: what the PWA
        # formats deal amounts in (Intl.NumberFormat).
        return {"slug": tenant.slug, "name": tenant.name,
                "timezone": tenant_config_current().get("timezone") or "UTC", "currency": tenant_currency()}


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


class PasswordChangeIn(InputSerializer):
    current_password = serializers.CharField(max_length=1024, trim_whitespace=False)
    new_password = serializers.CharField(max_length=1024, trim_whitespace=False)


class PasswordChangeOut(serializers.Serializer):
    token = serializers.CharField(required=False, help_text="The new API token (only when the change used one).")


class PasswordResetIn(InputSerializer):
    new_password = serializers.CharField(max_length=1024, trim_whitespace=False)


def _validator_language(request):
    """Password validators' messages in the language the client asks for (the PWA sends its own)."""
    return translation.override(translation.get_language_from_request(request))


class PasswordChangeView(APIView):
    """Anyone changes their own password. Other sessions and every token end; this session goes on, and a
    change made with a token answers with the new token."""

    permission_classes = [IsTenantUser]

    @extend_schema(request=PasswordChangeIn, responses={
        200: PasswordChangeOut, 400: OpenApiResponse(description="Wrong current password or a weak new one."),
        401: OpenApiResponse(description="Not signed in."),
        429: OpenApiResponse(description="Too many wrong current passwords (Retry-After).")})
    def post(self, request):
        data = PasswordChangeIn(data=request.data)
        data.is_valid(raise_exception=True)
        by_token = isinstance(request.successful_authenticator, TokenAuthentication)
        with _validator_language(request):
            try:
                token = services.user_password_change(
                    user=request.user, ip=client_ip(request), new_token=by_token,
                    session_key=None if by_token else request.session.session_key, **data.validated_data)
            except services.LoginThrottled as exc:
                raise _throttled(exc) from None
        if not by_token:  # a session: keep it signed in under the new password hash
            update_session_auth_hash(request._request, request.user)
        return Response({"token": token} if token else {})


class UserPasswordResetView(APIView):
    """An owner resets a head's or a manager's password, a head a manager's (never their own, a peer's or a
    higher role's)."""

    permission_classes = [IsOwnerOrHead]

    @extend_schema(request=PasswordResetIn, responses={
        204: None, 400: OpenApiResponse(description="The new password fails the validators."),
        403: OpenApiResponse(description="Not someone this role may manage (or oneself)."),
        404: OpenApiResponse(description="No such user in this tenant.")})
    def post(self, request, pk: int):
        user = get_object_or_404(User.objects.exclude(role=""), pk=pk)
        data = PasswordResetIn(data=request.data)
        data.is_valid(raise_exception=True)
        with _validator_language(request):
            services.user_password_reset(actor=request.user, user=user, **data.validated_data)
        return Response(status=status.HTTP_204_NO_CONTENT)
