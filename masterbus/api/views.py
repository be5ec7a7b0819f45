"""``POST /api/v1/auth/token`` and ``/auth/token/refresh``: simplejwt's pair, with the error
envelope's codes, a per-address throttle and the login lockout against password guessing
(``lockout``), and rotating, revocable tokens (``tokens``, the serializers in SIMPLE_JWT)."""

from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import exceptions, status
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView
from rest_framework_simplejwt import views as jwt_views
from rest_framework_simplejwt.exceptions import ExpiredTokenError, TokenError

from .auth import WWW_AUTHENTICATE, AuthFailed
from .errors import ErrorCode
from .lockout import LockedOut, retry_after
from .schema import BODY_ERRORS, COMPONENTS, NOT_BLANK, ErrorEnvelope, error_responses
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
        except exceptions.AuthenticationFailed:
            # The lockout's backend refused the attempt, or this failure reached the limit.
            if getattr(request, "axes_locked_out", False):
                credentials = getattr(request, "axes_credentials", None)
                raise LockedOut(retry_after(request, credentials)) from None
            raise
        return Response(serializer.validated_data, status=status.HTTP_200_OK)


def _text(description: str) -> dict:
    # DRF's CharField: stripped of surrounding whitespace, then not blank; no NUL.
    return {"type": "string", "minLength": 1, "pattern": NOT_BLANK, "description": description}


COMPONENTS["TokenObtainRequest"] = lambda: {
    "type": "object",
    "required": ["username", "password"],
    "properties": {"username": _text("A MasterBus user."), "password": _text("Their password.")},
}
COMPONENTS["TokenRefreshRequest"] = lambda: {
    "type": "object",
    "required": ["refresh"],
    "properties": {"refresh": _text("A refresh token (spent by this call).")},
}
TOKEN_PAIR = {
    "type": "object",
    "required": ["access", "refresh"],
    "properties": {
        "access": {"type": "string", "description": "Access token (Authorization: Bearer)."},
        "refresh": {"type": "string", "description": "Refresh token (works once)."},
    },
}
# DRF's JSON parser refuses any other Content-Type.
UNSUPPORTED_MEDIA_TYPE = {
    415: OpenApiResponse(ErrorEnvelope, description="VALIDATION_ERROR: the body is not JSON")
}


class TokenObtainView(_TokenView, jwt_views.TokenObtainPairView):
    @extend_schema(
        operation_id="auth_token",
        tags=["auth"],
        summary="Obtain a JWT pair (access 24 h, refresh 7 d) for a username and password",
        request={"application/json": {"$ref": "#/components/schemas/TokenObtainRequest"}},
        responses={
            200: OpenApiResponse(TOKEN_PAIR, description="The pair"),
            **error_responses(*BODY_ERRORS, "AUTH_INVALID_CREDENTIALS", "RATE_LIMITED"),
            **UNSUPPORTED_MEDIA_TYPE,
        },
    )
    def post(self, request, *args, **kwargs):
        return super().post(request, *args, **kwargs)


class TokenRefreshView(_TokenView, jwt_views.TokenRefreshView):
    throttle_classes = [RefreshAddressThrottle]

    @extend_schema(
        operation_id="auth_token_refresh",
        tags=["auth"],
        summary="Exchange a refresh token (spent by the call) for a new pair",
        request={"application/json": {"$ref": "#/components/schemas/TokenRefreshRequest"}},
        responses={
            200: OpenApiResponse(TOKEN_PAIR, description="The new pair"),
            **error_responses(
                *BODY_ERRORS, "AUTH_INVALID_CREDENTIALS", "AUTH_TOKEN_EXPIRED", "RATE_LIMITED"
            ),
            **UNSUPPORTED_MEDIA_TYPE,
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
