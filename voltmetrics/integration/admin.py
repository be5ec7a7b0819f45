"""Admin of VoltMetrics jobs (with the retry action) and received callbacks (read-only).

Registered on import; ``voltmetrics/admin.py`` imports this module."""

from django.contrib import admin, messages

from facilities.admin_support import ReadOnlyAdmin
from voltmetrics.models import Job, WebhookEvent

from .jobs import voltmetrics_job_retry


@admin.register(Job)
class JobAdmin(ReadOnlyAdmin):
    list_display = (
        "job_id", "kind", "status", "items_count", "submitted_at", "completed_at",
        "attempts", "retries", "short_error",
    )  # fmt: skip
    list_filter = ("status", "kind")
    search_fields = ("job_id",)
    date_hierarchy = "submitted_at"
    readonly_fields = (
        "job_id", "kind", "status", "items", "submitted_at", "completed_at",
        "results_fetched_at", "attempts", "last_error", "failed_items", "retries",
        "next_retry_at",
    )  # fmt: skip
    actions = ["retry_jobs"]

    @admin.display(description="items")
    def items_count(self, obj):
        return len(obj.items or [])

    @admin.display(description="last error")
    def short_error(self, obj):
        text = obj.last_error or ""
        return text if len(text) <= 120 else text[:117] + "…"

    @admin.action(description="Retry selected jobs")
    def retry_jobs(self, request, queryset):
        counts = {"resent": 0, "skipped": 0, "failed": 0}
        for job in queryset.order_by("submitted_at"):
            counts[voltmetrics_job_retry(job)] += 1
        level = messages.WARNING if counts["failed"] else messages.SUCCESS
        self.message_user(
            request,
            f"Re-sent {counts['resent']} job(s); skipped {counts['skipped']} "
            f"(completed or nothing left to send); failed {counts['failed']}.",
            level,
        )

    # The action needs "change" on the list even though rows are read-only.
    def has_change_permission(self, request, obj=None):
        return obj is None and request.user.has_perm("voltmetrics.change_job")

    def get_actions(self, request):
        actions = super().get_actions(request)
        if not request.user.has_perm("voltmetrics.change_job"):
            actions.pop("retry_jobs", None)
        return actions


@admin.register(WebhookEvent)
class WebhookEventAdmin(ReadOnlyAdmin):
    list_display = ("event_id", "event_type", "job_id", "received_at")
    list_filter = ("event_type",)
    search_fields = ("event_id", "job_id")
    readonly_fields = ("event_id", "event_type", "job_id", "payload", "received_at")
