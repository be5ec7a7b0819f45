"""API keys in the admin: created here, shown once, afterwards only renamed, re-dated,
re-limited or revoked. The digest is never shown.

Login lockouts (axes' access attempts): staff see the failed attempts and unlock them."""

from axes.admin import AccessAttemptAdmin
from axes.models import AccessAttempt, AccessFailureLog, AccessLog
from django import forms
from django.contrib import admin, messages
from django.template.response import TemplateResponse
from django.utils import timezone

from .admin_history import HistoryAdmin
from .api.lockout import unlock
from .choices import ApiScope
from .models import ApiKey
from .services import api_key_create, api_key_revoke


class ApiKeyAddForm(forms.ModelForm):
    scopes = forms.MultipleChoiceField(
        choices=ApiScope.choices, widget=forms.CheckboxSelectMultiple, required=True
    )

    class Meta:
        model = ApiKey
        fields = ["name", "scopes", "expires_at", "rate_limit_per_minute"]


class ApiKeyChangeForm(forms.ModelForm):
    revoke = forms.BooleanField(
        required=False, help_text="Revoke this key now (it cannot be restored)."
    )

    class Meta:
        model = ApiKey
        fields = ["name", "expires_at", "rate_limit_per_minute"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance.revoked_at is not None:
            self.fields["revoke"].disabled = True
            self.fields["revoke"].initial = True


@admin.register(ApiKey)
class ApiKeyAdmin(HistoryAdmin):
    list_display = [
        "name",
        "prefix",
        "scope_list",
        "expires_at",
        "revoked_at",
        "last_used_at",
        "rate_limit_per_minute",
        "created_at",
    ]
    list_filter = [("revoked_at", admin.EmptyFieldListFilter), "expires_at"]
    search_fields = ["name", "prefix"]
    actions = ["revoke_selected"]
    readonly_fields = [
        "prefix",
        "scope_list",
        "revoked_at",
        "last_used_at",
        "created_by",
        "created_at",
    ]

    @admin.display(description="scopes")
    def scope_list(self, obj):
        return ", ".join(obj.scopes or [])

    def get_form(self, request, obj=None, change=False, **kwargs):
        kwargs["form"] = ApiKeyChangeForm if obj is not None else ApiKeyAddForm
        return super().get_form(request, obj, change=change, **kwargs)

    def get_fields(self, request, obj=None):
        if obj is None:
            return ["name", "scopes", "expires_at", "rate_limit_per_minute"]
        return [
            "name",
            "prefix",
            "scope_list",
            "expires_at",
            "rate_limit_per_minute",
            "revoke",
            "revoked_at",
            "last_used_at",
            "created_by",
            "created_at",
        ]

    def get_readonly_fields(self, request, obj=None):
        return [] if obj is None else self.readonly_fields

    def save_model(self, request, obj, form, change):
        if change:
            if form.cleaned_data.get("revoke") and obj.revoked_at is None:
                obj.revoked_at = timezone.now()
            obj.save()
            return
        key, raw = api_key_create(
            name=form.cleaned_data["name"],
            scopes=form.cleaned_data["scopes"],
            expires_at=form.cleaned_data.get("expires_at"),
            rate_limit=form.cleaned_data.get("rate_limit_per_minute"),
            user=request.user,
        )
        # The admin goes on with ``obj`` (log entry, response): make it the created row.
        obj.pk = key.pk
        obj._state.adding = False
        obj.refresh_from_db()
        request._masterbus_new_api_key = raw

    def response_add(self, request, obj, post_url_continue=None):
        raw = getattr(request, "_masterbus_new_api_key", None)
        if raw is None:
            return super().response_add(request, obj, post_url_continue)
        # The raw key is rendered once, straight into this response: never stored, never put
        # in a message (messages may live in a cookie or the session table).
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": "API key created",
            "key": obj,
            "raw_key": raw,
        }
        response = TemplateResponse(request, "admin/masterbus/apikey/key_created.html", context)
        response["Cache-Control"] = "no-store"
        return response

    @admin.action(description="Revoke selected keys")
    def revoke_selected(self, request, queryset):
        n = api_key_revoke(keys=queryset)
        self.message_user(request, f"Revoked {n} key(s).", messages.SUCCESS)


# Only failures are recorded (settings: AXES_DISABLE_ACCESS_LOG, no failure log).
for _model in (AccessAttempt, AccessLog, AccessFailureLog):
    if admin.site.is_registered(_model):
        admin.site.unregister(_model)


@admin.register(AccessAttempt)
class LoginAttemptAdmin(AccessAttemptAdmin):
    """Failed logins per username, address and user agent; a username or an address is locked
    while its rows add up to LOGIN_LOCKOUT_FAILURES within LOGIN_LOCKOUT_MINUTES."""

    actions = ["unlock_selected", *AccessAttemptAdmin.actions]

    @admin.action(
        description="Unlock the usernames and addresses of selected attempts",
        permissions=["delete"],
    )
    def unlock_selected(self, request, queryset):
        n = unlock(queryset)
        self.message_user(
            request, f"Unlocked: forgot {n} failed-attempt record(s).", messages.SUCCESS
        )


from . import admin_widgets  # noqa: E402, F401  (the scheduler's crontab page)
