"""User JWTs that can be revoked (threatmap-api.md §Hardening).

- **Refresh tokens rotate.** ``POST /auth/token/refresh`` spends the refresh token: it is
  blacklisted (simplejwt's token_blacklist app) and a new pair is returned. Spending is one
  INSERT into the blacklist under its unique key, in the transaction that issues the new pair,
  so of two concurrent uses of one refresh token exactly one succeeds; any later use is 401.
- **A password change or a deactivation revokes every token issued before**, access tokens
  included. Each user has a token *generation* (``UserTokenState``, no row = 0); every token
  carries the generation it was issued under in the ``gen`` claim (tokens without the claim
  count as 0), and a token of an older generation is refused. The generation is bumped when
  a saved user's password hash or ``is_active`` differs from the stored row: the admin's
  password and change forms, ``manage.py changepassword``, ``set_password()`` + ``save()``,
  ``is_active = False`` + ``save()``. Django's own hash upgrade at login is not a change.

Cost on the hot path: none. JWTAuthentication already loads the user for every request; it
loads the state row in the same query (``select_related``, a LEFT JOIN on the primary key).
A counter rather than a "valid after" time compared with ``iat``: ``iat`` has whole seconds,
so a time could not tell a token issued just before a change from one issued just after it.
"""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import get_hasher, identify_hasher, is_password_usable
from django.core.exceptions import ObjectDoesNotExist, ValidationError
from django.db import IntegrityError, transaction
from django.db.models import F
from django.db.models.signals import post_save, pre_save
from django.utils import timezone
from rest_framework import exceptions
from rest_framework_simplejwt import serializers as jwt_serializers
from rest_framework_simplejwt import tokens as jwt_tokens
from rest_framework_simplejwt.exceptions import TokenError
from rest_framework_simplejwt.settings import api_settings as jwt_settings
from rest_framework_simplejwt.token_blacklist.models import BlacklistedToken, OutstandingToken
from rest_framework_simplejwt.utils import datetime_from_epoch

from masterbus.models import UserTokenState

GENERATION_CLAIM = "gen"


def generation_of(user) -> int:
    try:
        return user.token_state.generation
    except ObjectDoesNotExist:
        return 0


def revoke_user_tokens(user) -> None:
    """Bump the user's token generation: every token issued before is refused from now on."""
    now = timezone.now()
    bump = {"generation": F("generation") + 1, "revoked_at": now}
    if not UserTokenState.objects.filter(user_id=user.pk).update(**bump):
        _, created = UserTokenState.objects.get_or_create(
            user_id=user.pk, defaults={"generation": 1, "revoked_at": now}
        )
        if not created:  # created concurrently
            UserTokenState.objects.filter(user_id=user.pk).update(**bump)
    # A state cached on this instance is stale now.
    user._state.fields_cache.pop("token_state", None)


def user_for_token(token):
    """The active user a token belongs to, refusing a token of an older generation."""
    User = get_user_model()
    user_id = token.get(jwt_settings.USER_ID_CLAIM)
    if user_id is None:
        raise exceptions.AuthenticationFailed("Token contained no recognizable user identification")
    try:
        user = User._default_manager.select_related("token_state").get(
            **{jwt_settings.USER_ID_FIELD: user_id}
        )
    except (User.DoesNotExist, ValueError, TypeError, ValidationError):
        raise exceptions.AuthenticationFailed("User not found") from None
    if not user.is_active:
        raise exceptions.AuthenticationFailed("User is inactive")
    if token.get(GENERATION_CLAIM, 0) != generation_of(user):
        raise exceptions.AuthenticationFailed("Token has been revoked")
    return user


class RefreshToken(jwt_tokens.RefreshToken):
    """simplejwt's refresh token (blacklistable), carrying the user's token generation; the
    access tokens made from it copy the claim."""

    @classmethod
    def for_user(cls, user):
        # Token.for_user (skipping the blacklist mixin's, which records the token before the
        # claim is added), then the generation, then the outstanding-token row.
        token = super(jwt_tokens.BlacklistMixin, cls).for_user(user)
        token[GENERATION_CLAIM] = generation_of(user)
        OutstandingToken.objects.create(
            user=user,
            jti=token[jwt_settings.JTI_CLAIM],
            token=str(token),
            created_at=token.current_time,
            expires_at=datetime_from_epoch(token["exp"]),
        )
        return token


class TokenObtainPairSerializer(jwt_serializers.TokenObtainPairSerializer):
    token_class = RefreshToken


def spend(refresh, user) -> None:
    """Blacklist ``refresh``; TokenError when it has been spent already (also concurrently)."""
    outstanding, _ = OutstandingToken.objects.get_or_create(
        jti=refresh[jwt_settings.JTI_CLAIM],
        defaults={
            "user": user,
            "token": str(refresh),
            "created_at": refresh.current_time,
            "expires_at": datetime_from_epoch(refresh["exp"]),
        },
    )
    try:
        with transaction.atomic():
            BlacklistedToken.objects.create(token=outstanding)
    except IntegrityError:
        raise TokenError("Token is blacklisted") from None


class TokenRefreshSerializer(jwt_serializers.TokenRefreshSerializer):
    """A refresh token works once: it is spent, and a new access and refresh token pair is
    returned."""

    token_class = RefreshToken

    def validate(self, attrs):
        refresh = self.token_class(attrs["refresh"])  # signature, expiry, type, blacklist
        user = user_for_token(refresh)
        with transaction.atomic():
            spend(refresh, user)
            new = self.token_class.for_user(user)
        return {"access": str(new.access_token), "refresh": str(new)}


# --- revocation on password change and deactivation ------------------------------------------

_REVOKE_ATTR = "_masterbus_revoke_tokens"
_WATCHED = {"password", "is_active"}


def _is_hash_upgrade(user, old_hash: str) -> bool:
    """Django re-hashing a password at login with a newer hasher (not a password change):
    set_password() was not called, and the old hash was due for the upgrade."""
    if getattr(user, "_password", None) is not None or not is_password_usable(user.password):
        return False
    try:
        old, new = identify_hasher(old_hash), identify_hasher(user.password)
    except ValueError:
        return False
    preferred = get_hasher("default")
    if new.algorithm != preferred.algorithm:
        return False
    return old.algorithm != preferred.algorithm or preferred.must_update(old_hash)


def _user_saving(sender, instance, raw=False, update_fields=None, **kwargs):
    if raw or instance._state.adding or instance.pk is None:
        return
    if update_fields is not None and not _WATCHED.intersection(update_fields):
        return
    old = sender._default_manager.filter(pk=instance.pk).values("password", "is_active").first()
    if old is None:
        return
    password_changed = old["password"] != instance.password and not _is_hash_upgrade(
        instance, old["password"]
    )
    if password_changed or old["is_active"] != instance.is_active:
        setattr(instance, _REVOKE_ATTR, True)


def _user_saved(sender, instance, created=False, raw=False, **kwargs):
    if getattr(instance, _REVOKE_ATTR, False):
        setattr(instance, _REVOKE_ATTR, False)
        revoke_user_tokens(instance)


def connect_signals() -> None:
    User = get_user_model()
    pre_save.connect(_user_saving, sender=User, dispatch_uid="masterbus.tokens.saving")
    post_save.connect(_user_saved, sender=User, dispatch_uid="masterbus.tokens.saved")
