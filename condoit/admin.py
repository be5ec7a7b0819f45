"""Admin for the Condoit sync bookkeeping: sync runs with their rejected records (and the
"Re-run selected rejected records" action), the pull's cursors and the processed events.
The tables belong to the facilities app; the code that fills them lives here."""

import logging

from django.contrib import admin, messages
from django.db.models import DurationField, ExpressionWrapper, F
from django.urls import reverse
from django.utils.html import format_html, format_html_join
from django.utils.text import Truncator

from facilities.admin_csv import CsvExportMixin
from facilities.admin_support import ReadOnlyAdmin, ReadOnlyInline, limited_formset, show_value
from facilities.choices import SyncStatus
from facilities.models import ProcessedEvent, RejectedRecord, SyncCursor, SyncRun

from . import ingest
from .rejected_json import RawJsonView, raw_json_view

logger = logging.getLogger(__name__)

INLINE_REJECTIONS_LIMIT = 100


# --- Sync runs and rejections ---------------------------------------------------------------


class HasWarningsFilter(admin.SimpleListFilter):
    title = "warnings"
    parameter_name = "warnings"

    def lookups(self, request, model_admin):
        return [("yes", "Has warnings"), ("no", "No warnings")]

    def queryset(self, request, queryset):
        if self.value() == "yes":
            return queryset.exclude(warnings=[])
        if self.value() == "no":
            return queryset.filter(warnings=[])
        return queryset


def flatten(fields) -> tuple[str, ...]:
    return tuple(f for item in fields for f in (item if isinstance(item, tuple) else (item,)))


def show_duration(delta, *, running: bool = False) -> str:
    """A run's duration for staff: "0.4 s", "12 s", "3 min 05 s", "2 h 03 min"."""
    if delta is None:
        return "running" if running else "—"
    seconds = max(delta.total_seconds(), 0.0)
    if seconds < 10:
        return f"{seconds:.1f} s"
    if seconds < 60:
        return f"{seconds:.0f} s"
    minutes, secs = divmod(int(seconds), 60)
    if minutes < 60:
        return f"{minutes} min {secs:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"


def raw_preview(raw: str, limit: int = 160) -> str:
    return Truncator(raw.replace("\n", " ")).chars(limit) if raw else "—"


class RejectedRecordInline(ReadOnlyInline, admin.TabularInline):
    model = RejectedRecord
    formset = limited_formset(INLINE_REJECTIONS_LIMIT)
    fields = ("kind", "record_id", "line", "field", "reason", "raw_preview", "rerun_outcome")
    readonly_fields = fields
    show_change_link = True
    verbose_name_plural = f"rejected records (first {INLINE_REJECTIONS_LIMIT})"

    @admin.display(description="raw (preview)")
    def raw_preview(self, obj):
        return raw_preview(obj.raw)


def render_raw_json(view: RawJsonView):
    """The raw record for the change page: a note, then the JSON with the failing field's
    lines in ``<mark>`` (styled by rejected_record.css); everything escaped."""
    note = format_html('<p class="rejected-raw-note">{}</p>', view.note) if view.note else ""
    if not view.is_json:
        if not view.text:
            return format_html("{}—", note)
        return format_html('{}<pre class="rejected-raw">{}</pre>', note, view.text)
    body = format_html_join(
        "\n",
        "{}",
        (
            (format_html('<mark class="rejected-field">{}</mark>', line.text),)
            if line.marked
            else (line.text,)
            for line in view.lines
        ),
    )
    return format_html('{}<pre class="rejected-raw">{}</pre>', note, body)


@admin.register(SyncRun)
class SyncRunAdmin(ReadOnlyAdmin):
    list_display = (
        "id",
        "source",
        "label",
        "status",
        "started_at",
        "duration",  # the end is on the run's page
        "created",
        "updated",
        "unchanged",
        "rejected",
        "deleted",
        "has_warnings",
    )
    list_display_links = ("id", "label")
    list_filter = ("source", "status", HasWarningsFilter)
    search_fields = ("label",)
    date_hierarchy = "started_at"
    fields = (
        ("source", "label"),
        "status",
        ("started_at", "finished_at", "duration"),
        ("created", "updated", "unchanged", "rejected", "deleted"),
        "warnings_table",
        "error",
        "rejections_link",
    )
    readonly_fields = flatten(fields)
    inlines = [RejectedRecordInline]

    def get_queryset(self, request):
        # The duration as a column, so the list sorts by it (one query, whatever the rows).
        return (
            super()
            .get_queryset(request)
            .annotate(
                run_duration=ExpressionWrapper(
                    F("finished_at") - F("started_at"), output_field=DurationField()
                )
            )
        )

    @admin.display(description="duration", ordering="run_duration")
    def duration(self, obj):
        return show_duration(obj.run_duration, running=obj.status == SyncStatus.RUNNING)

    @admin.display(description="warnings", boolean=True)
    def has_warnings(self, obj):
        return bool(obj.warnings)

    @admin.display(description="warnings")
    def warnings_table(self, obj):
        if not obj.warnings:
            return "—"
        rows = []
        for w in obj.warnings:
            if isinstance(w, dict):
                rows.append(
                    (
                        w.get("code", ""),
                        w.get("message", ""),
                        show_value(w.get("value")),
                        w.get("count", ""),
                    )
                )
            else:
                rows.append(("", show_value(w), "", ""))
        table = format_html(
            "<table><thead><tr><th>code</th><th>message</th><th>value</th><th>count</th></tr>"
            "</thead><tbody>{}</tbody></table>",
            format_html_join("", "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>", rows),
        )
        if any(isinstance(w, dict) and w.get("code") == "unmapped_class" for w in obj.warnings):
            table = format_html(
                '{}<p><a href="{}">Map the unmapped Condoit classes</a></p>',
                table,
                reverse("admin:equipment_equipmentclassmapping_unmapped"),
            )
        return table

    @admin.display(description="rejected records")
    def rejections_link(self, obj):
        url = reverse("admin:facilities_rejectedrecord_changelist")
        return format_html(
            '<a href="{}?sync_run__exact={}">All {} rejected records of this run</a>',
            url,
            obj.pk,
            obj.rejected,
        )


@admin.register(RejectedRecord)
class RejectedRecordAdmin(CsvExportMixin, ReadOnlyAdmin):
    class Media:
        css = {"all": ["condoit/admin/rejected_record.css"]}

    list_display = (
        "id",
        "sync_run_link",
        "kind",
        "record_id",
        "line",
        "field",
        "short_reason",
        "rerun_at",
        "rerun_outcome",
    )
    list_select_related = ("sync_run",)
    list_filter = ("kind", "field", "sync_run__source")
    search_fields = ("record_id", "reason", "field")
    actions = ["rerun_selected"]
    csv_columns = (
        "id", ("sync_run", "sync_run_id"), ("sync_run_source", "sync_run__source"),
        ("sync_run_started_at", "sync_run__started_at"), "kind", "record_id", "line", "field",
        "reason", "rerun_at", "rerun_outcome", "raw_truncated", "raw",
    )  # fmt: skip
    fields = (
        "sync_run",
        ("kind", "record_id", "line"),
        "field",
        "reason",
        "raw_pretty",
        "raw_truncated",
        ("rerun_at", "rerun_outcome"),
    )
    readonly_fields = flatten(fields)

    @admin.display(description="sync run", ordering="sync_run")
    def sync_run_link(self, obj):
        url = reverse("admin:facilities_syncrun_change", args=[obj.sync_run_id])
        return format_html('<a href="{}">{}</a>', url, obj.sync_run)

    @admin.display(description="reason")
    def short_reason(self, obj):
        return Truncator(obj.reason).chars(120)

    @admin.display(description="raw JSON as it arrived")
    def raw_pretty(self, obj):
        return render_raw_json(raw_json_view(obj.raw, obj.field, truncated=obj.raw_truncated))

    def has_rerun_permission(self, request):
        return request.user.has_perm("facilities.change_rejectedrecord")

    @admin.action(description="Re-run selected rejected records", permissions=["rerun"])
    def rerun_selected(self, request, queryset):
        ids = list(queryset.values_list("pk", flat=True))
        try:
            result = ingest.rerun_rejected(ids)
        except Exception as exc:  # a failed re-run is reported, never a 500
            logger.exception("re-run of rejected records failed")
            self.message_user(request, f"Re-run failed: {exc}", messages.ERROR)
            return
        counts = ", ".join(f"{k}: {v}" for k, v in result.items())
        self.message_user(
            request, f"Re-ran {len(ids)} rejected record(s) — {counts}.", messages.SUCCESS
        )


# --- Cursors, events, outbox ----------------------------------------------------------------


@admin.register(SyncCursor)
class SyncCursorAdmin(ReadOnlyAdmin):
    list_display = ("resource", "high_water_mark", "updated_at")


@admin.register(ProcessedEvent)
class ProcessedEventAdmin(ReadOnlyAdmin):
    list_display = ("event_id", "event_type", "occurred_at", "received_at", "outcome")
    list_filter = ("event_type", "outcome")
    search_fields = ("=event_id", "event_id")
    show_full_result_count = False
