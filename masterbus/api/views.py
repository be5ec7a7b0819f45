"""``POST /api/v1/auth/token`` and ``/auth/token/refresh``: simplejwt's pair, with the error
envelope's codes and a per-address throttle against password guessing."""

from drf_spectacular.utils import extend_schema
from rest_framework import exceptions, status
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView
from rest_framework_simplejwt import views as jwt_views
from rest_framework_simplejwt.exceptions import ExpiredTokenError, TokenError
from rest_framework_simplejwt.serializers import (
    TokenObtainPairSerializer,
    TokenRefreshSerializer,
)

from .auth import WWW_AUTHENTICATE, AuthFailed
from .errors import ErrorCode
from .schema import error_responses
from .throttling import TokenAddressThrottle


class RefreshAddressThrottle(TokenAddressThrottle):
    bucket = "auth-refresh"


class _TokenView:
    authentication_classes: list = []
    permission_classes: list = []
    throttle_classes = [TokenAddressThrottle]

    def get_authenticate_header(self, request):
        return WWW_AUTHENTICATE

    def post(self, request, *args, **kwargs):
        serializer = self.get_serializer(data=request.data)
        try:
            serializer.is_valid(raise_exception=True)
        except ExpiredTokenError:
            raise AuthFailed("Token has expired", ErrorCode.AUTH_TOKEN_EXPIRED) from None
        except TokenError as exc:
            raise AuthFailed(str(exc.args[0]) if exc.args else "Invalid token") from None
        return Response(serializer.validated_data, status=status.HTTP_200_OK)


class TokenObtainView(_TokenView, jwt_views.TokenObtainPairView):
    @extend_schema(
        operation_id="auth_token",
        tags=["auth"],
        summary="Obtain a JWT pair (access 24 h, refresh 7 d) for a username and password",
        responses={
            200: TokenObtainPairSerializer,
            **error_responses("VALIDATION_ERROR", "AUTH_INVALID_CREDENTIALS", "RATE_LIMITED"),
        },
    )
    def post(self, request, *args, **kwargs):
        return super().post(request, *args, **kwargs)


class TokenRefreshView(_TokenView, jwt_views.TokenRefreshView):
    throttle_classes = [RefreshAddressThrottle]

    @extend_schema(
        operation_id="auth_token_refresh",
        tags=["auth"],
        summary="Exchange a refresh token for a new access token",
        responses={
            200: TokenRefreshSerializer,
            **error_responses(
                "VALIDATION_ERROR",
                "AUTH_INVALID_CREDENTIALS",
                "AUTH_TOKEN_EXPIRED",
                "RATE_LIMITED",
            ),
        },
    )
    def post(self, request, *args, **kwargs):
        return super().post(request, *args, **kwargs)


class ApiNotFoundView(APIView):
    """Anything unknown under /api/: a 404 in the envelope. A DRF view, so a request with
    credentials is authenticated (and rate-limited) like any other; none are required."""

    permission_classes = [AllowAny]

    @extend_schema(exclude=True)
    def get(self, request, *args, **kwargs):
        raise exceptions.NotFound()

    post = put = patch = delete = get
