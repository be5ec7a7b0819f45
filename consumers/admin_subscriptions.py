"""Webhook subscriptions and their deliveries in the admin (consumers.md §4).

A subscription's secret is shown once: on the page that follows its creation, and on the
page that follows a rotation, rendered straight into that response (never stored in a
message, which may live in a cookie or the session table). The change form shows the
subscription's health (last success, consecutive failures, queue depth, paused) and its
recent deliveries, with buttons to rotate the secret, pause, resume (what queued is sent in
order) and send a test event; the same are list actions. Deliveries are read-only, each with
every attempt; a delivery can be replayed (a new delivery, same body, sent now, outside the
subscription's order).
"""

from __future__ import annotations

import json

import orjson
from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpResponseNotAllowed
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join

from masterbus.admin_history import HistoryAdmin

from .choices import PUBLIC_EVENT_TYPES
from .models import Delivery, DeliveryAttempt, Subscription, event_public_id
from .webhooks.selectors import queue_depth, queue_depths
from .webhooks.services import (
    delivery_replay,
    event_types_validate,
    subscription_create,
    subscription_pause,
    subscription_resume,
    subscription_rotate_secret,
    subscription_send_test,
    subscription_set_active,
    url_validate,
)

RECENT_DELIVERIES = 20


class SubscriptionForm(forms.ModelForm):
    url = forms.CharField(
        label="URL",
        max_length=2000,
        help_text="Where events are POSTed: https (http only when WEBHOOK_ALLOW_HTTP is set).",
        widget=forms.URLInput(attrs={"size": 80}),
    )
    event_types = forms.MultipleChoiceField(
        choices=[(t, t) for t in PUBLIC_EVENT_TYPES],
        widget=forms.CheckboxSelectMultiple,
        required=False,
        help_text="None ticked: every type.",
    )

    class Meta:
        model = Subscription
        fields = ["url", "description", "event_types", "portfolios", "active"]
        help_texts = {
            "portfolios": "Bound to portfolios: only events of their facilities, and no system "
            "events (sync, model versions, VoltMetrics). None: everything.",
            "active": "Off: nothing is sent, and switched back on it starts from the newest "
            "event. To hold events and send them later, pause instead.",
        }

    def clean_url(self):
        try:
            return url_validate(self.cleaned_data.get("url"))
        except ValidationError as exc:
            raise forms.ValidationError(exc.messages) from None

    def clean_event_types(self):
        return event_types_validate(self.cleaned_data.get("event_types") or [])


def _state(sub: Subscription) -> str:
    if not sub.active:
        return "off"
    if sub.paused_at is not None:
        return "paused"
    if sub.consecutive_failures:
        return "retrying"
    return "ok"


@admin.register(Subscription)
class SubscriptionAdmin(HistoryAdmin):
    form = SubscriptionForm
    change_form_template = "admin/consumers/subscription/change_form.html"
    list_display = (
        "id", "url", "description", "types", "state", "last_success_at",
        "consecutive_failures", "queue", "created_at",
    )  # fmt: skip
    list_display_links = ("id", "url")
    list_filter = ("active", ("paused_at", admin.EmptyFieldListFilter))
    search_fields = ("url", "description")
    filter_horizontal = ("portfolios",)
    actions = ("rotate_secret", "pause_selected", "resume_selected", "send_test_event")
    health_fields = (
        "state", "paused_at", "paused_reason", "last_success_at", "consecutive_failures",
        "queue", "cursor_event", "secret_rotation", "created_at", "created_by",
        "recent_deliveries",
    )  # fmt: skip

    def get_fieldsets(self, request, obj=None):
        main = (None, {"fields": ["url", "description", "event_types", "portfolios", "active"]})
        if obj is None:
            return [main]
        return [main, ("Health", {"fields": list(self.health_fields)})]

    def get_readonly_fields(self, request, obj=None):
        return () if obj is None else self.health_fields

    # --- columns and read-only fields --------------------------------------------------------

    @admin.display(description="event types")
    def types(self, sub):
        return ", ".join(sub.event_types) or "all"

    @admin.display(description="state")
    def state(self, sub):
        return _state(sub)

    def get_changelist_instance(self, request):
        """The list's queue depths in one query (not one count per row)."""
        cl = super().get_changelist_instance(request)
        depths = queue_depths([sub.pk for sub in cl.result_list if sub.active])
        for sub in cl.result_list:
            sub.queue_depth_known = depths.get(sub.pk)
        return cl

    @admin.display(description="queue depth")
    def queue(self, sub):
        if not sub.active:
            return "—"
        known = getattr(sub, "queue_depth_known", None)
        return known if known is not None else queue_depth(sub)

    @admin.display(description="delivered up to")
    def cursor_event(self, sub):
        return event_public_id(sub.cursor) if sub.cursor else "—"

    @admin.display(description="previous secret valid until")
    def secret_rotation(self, sub):
        return sub.previous_secret_until or "—"

    @admin.display(description=f"recent deliveries (last {RECENT_DELIVERIES})")
    def recent_deliveries(self, sub):
        rows = list(sub.deliveries.order_by("-id")[:RECENT_DELIVERIES])
        if not rows:
            return "—"
        body = format_html_join(
            "",
            '<tr><td><a href="{}">{}</a></td><td>{}</td><td>{}</td><td>{}</td><td>{}</td>'
            "<td>{}</td><td>{}</td></tr>",
            (
                (
                    reverse("admin:consumers_delivery_change", args=[d.pk]),
                    d.pk,
                    d.event_public_id,
                    d.event_type,
                    d.get_status_display(),
                    d.attempts,
                    "yes" if d.replay else "",
                    d.finished_at or d.next_attempt_at or "",
                )  # fmt: skip
                for d in rows
            ),
        )
        all_url = (
            reverse("admin:consumers_delivery_changelist") + f"?subscription__id__exact={sub.pk}"
        )
        return format_html(
            "<table><thead><tr><th>#</th><th>event</th><th>type</th><th>status</th>"
            "<th>attempts</th><th>replay</th><th>finished / next attempt</th></tr></thead>"
            '<tbody>{}</tbody></table><p><a href="{}">All deliveries</a></p>',
            body,
            all_url,
        )

    # --- saving ----------------------------------------------------------------------------

    def save_model(self, request, obj, form, change):
        if change:
            # Only what the form edits: the deliveries write the rest meanwhile.
            obj.save(update_fields=["url", "description", "event_types"])
            was_active = Subscription.objects.values_list("active", flat=True).get(pk=obj.pk)
            if obj.active != was_active:
                want = obj.active
                obj.active = was_active
                subscription_set_active(obj, want)
            return
        sub, secret = subscription_create(
            url=form.cleaned_data["url"],
            event_types=form.cleaned_data["event_types"],
            description=form.cleaned_data.get("description") or "",
            active=form.cleaned_data.get("active", True),
            user=request.user,
        )
        # The admin goes on with ``obj`` (portfolios, log entry, response): make it the row.
        obj.pk = sub.pk
        obj._state.adding = False
        obj.refresh_from_db()
        request._masterbus_new_secret = secret

    def response_add(self, request, obj, post_url_continue=None):
        secret = getattr(request, "_masterbus_new_secret", None)
        if secret is None:
            return super().response_add(request, obj, post_url_continue)
        return self._secret_page(request, obj, secret, created=True)

    def _secret_page(self, request, sub, secret, *, created):
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": "Subscription created" if created else "Signing secret rotated",
            "subscription": sub,
            "secret": secret,
            "created": created,
        }
        response = TemplateResponse(request, "admin/consumers/subscription/secret.html", context)
        response["Cache-Control"] = "no-store"
        return response

    # --- buttons on the change form ---------------------------------------------------------

    def get_urls(self):
        own = [
            path(
                "<int:pk>/do/<str:what>/",
                self.admin_site.admin_view(self.button_view),
                name="consumers_subscription_button",
            ),
        ]
        return own + super().get_urls()

    def button_view(self, request, pk, what):
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        sub = get_object_or_404(Subscription, pk=pk)
        if not self.has_change_permission(request, sub):
            raise PermissionDenied
        if what == "rotate":
            return self._rotate(request, sub)
        done = {
            "pause": self._pause,
            "resume": self._resume,
            "test": self._test,
        }.get(what)
        if done is None:
            raise PermissionDenied
        done(request, sub)
        return redirect("admin:consumers_subscription_change", sub.pk)

    def _rotate(self, request, sub):
        secret = subscription_rotate_secret(sub)
        self.log_change(request, sub, "Rotated the signing secret.")
        return self._secret_page(request, sub, secret, created=False)

    def _pause(self, request, sub):
        if subscription_pause(sub, f"paused by {request.user.get_username()}"):
            self.message_user(request, f"Paused #{sub.pk}: its events queue.", messages.SUCCESS)
        else:
            self.message_user(request, f"#{sub.pk} was already paused.", messages.WARNING)

    def _resume(self, request, sub):
        depth = queue_depth(sub)
        if subscription_resume(sub):
            self.message_user(
                request,
                f"Resumed #{sub.pk}: {depth} queued event(s) are being sent, in order.",
                messages.SUCCESS,
            )
        else:
            self.message_user(request, f"#{sub.pk} was not paused.", messages.WARNING)

    def _test(self, request, sub):
        delivery = subscription_send_test(sub)
        self.message_user(
            request,
            f"Test event {delivery.event_public_id} sent to #{sub.pk} as delivery "
            f"#{delivery.pk}; its outcome is on the delivery.",
            messages.SUCCESS,
        )

    # --- list actions -----------------------------------------------------------------------

    @admin.action(description="Rotate the signing secret (one subscription)")
    def rotate_secret(self, request, queryset):
        selected = list(queryset[:2])
        if len(selected) != 1:
            self.message_user(request, "Select exactly one subscription.", messages.ERROR)
            return None
        return self._rotate(request, selected[0])

    @admin.action(description="Pause selected subscriptions (events queue)")
    def pause_selected(self, request, queryset):
        for sub in queryset:
            self._pause(request, sub)

    @admin.action(description="Resume selected subscriptions (send what queued, in order)")
    def resume_selected(self, request, queryset):
        for sub in queryset:
            self._resume(request, sub)

    @admin.action(description="Send a test event to selected subscriptions")
    def send_test_event(self, request, queryset):
        for sub in queryset:
            self._test(request, sub)


# --- deliveries (read-only) -------------------------------------------------------------------


class DeliveryAttemptInline(admin.TabularInline):
    model = DeliveryAttempt
    extra = 0
    can_delete = False
    fields = ("at", "status_code", "duration_ms", "error", "response")
    readonly_fields = fields

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(Delivery)
class DeliveryAdmin(admin.ModelAdmin):
    change_form_template = "admin/consumers/delivery/change_form.html"
    list_display = (
        "id", "event_public_id", "event_type", "subscription", "status", "attempts", "replay",
        "next_attempt_at", "created_at", "finished_at",
    )  # fmt: skip
    list_filter = ("status", "replay", "event_type")
    list_select_related = ("subscription",)
    search_fields = ("event_public_id",)
    show_full_result_count = False
    fields = (
        "subscription", "event_public_id", "event_type", "status", "attempts", "replay",
        "next_attempt_at", "created_at", "finished_at", "body_json",
    )  # fmt: skip
    readonly_fields = fields
    inlines = [DeliveryAttemptInline]
    actions = ("replay_selected",)

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False  # written by the deliveries; shown read-only

    @admin.display(description="body")
    def body_json(self, delivery):
        try:
            pretty = json.dumps(orjson.loads(bytes(delivery.body)), indent=2)
        except orjson.JSONDecodeError:
            pretty = bytes(delivery.body).decode("utf-8", "replace")
        return format_html("<pre>{}</pre>", pretty)

    def get_urls(self):
        own = [
            path(
                "<int:pk>/replay/",
                self.admin_site.admin_view(self.replay_view),
                name="consumers_delivery_replay",
            ),
        ]
        return own + super().get_urls()

    def replay_view(self, request, pk):
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        if not self.admin_site.get_model_admin(Subscription).has_change_permission(request):
            raise PermissionDenied
        delivery = get_object_or_404(Delivery, pk=pk)
        again = self._replay(request, delivery)
        return redirect("admin:consumers_delivery_change", again.pk)

    def _replay(self, request, delivery):
        again = delivery_replay(delivery)
        self.message_user(
            request,
            f"Replaying {delivery.event_public_id} (delivery #{delivery.pk}) to subscription "
            f"#{delivery.subscription_id} as delivery #{again.pk}, now, outside its order.",
            messages.SUCCESS,
        )
        return again

    @admin.action(description="Replay selected deliveries (same body, sent now)")
    def replay_selected(self, request, queryset):
        if not self.admin_site.get_model_admin(Subscription).has_change_permission(request):
            raise PermissionDenied
        for delivery in queryset.order_by("id"):
            self._replay(request, delivery)
