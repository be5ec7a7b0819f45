"""Admin for the Facility mirror and the Condoit sync bookkeeping."""

import json
import logging

from django.contrib import admin, messages
from django.db.models import Count, Q
from django.urls import reverse
from django.utils.html import format_html, format_html_join
from django.utils.text import Truncator

from equipment.models import Equipment

from .admin_support import (
    CONDOIT_FIELDSET,
    DeletedFilter,
    HasOverridesFilter,
    ReadOnlyAdmin,
    ReadOnlyInline,
    StaffEditAdmin,
    limited_formset,
    show_value,
)
from .choices import RecordKind
from .models import (
    Facility,
    FieldOverride,
    ProcessedEvent,
    RecordChange,
    RejectedRecord,
    SyncCursor,
    SyncRun,
)

logger = logging.getLogger(__name__)

admin.site.site_header = "MasterBus administration"
admin.site.site_title = "MasterBus administration"
admin.site.index_title = "MasterBus"

INLINE_EQUIPMENT_LIMIT = 100
INLINE_REJECTIONS_LIMIT = 100


# --- Facility -------------------------------------------------------------------------------


class FacilityOverridesFilter(HasOverridesFilter):
    kind = RecordKind.FACILITY


class EquipmentInline(ReadOnlyInline, admin.TabularInline):
    model = Equipment
    fk_name = "facility"
    formset = limited_formset(INLINE_EQUIPMENT_LIMIT)
    fields = (
        "name",
        "external_id",
        "type",
        "equipment_class",
        "class_mapped",
        "install_date",
        "deleted_at",
    )
    readonly_fields = fields
    ordering = ("name", "external_id")
    show_change_link = True
    verbose_name_plural = f"equipment (first {INLINE_EQUIPMENT_LIMIT}; see the summary above)"


@admin.register(Facility)
class FacilityAdmin(StaffEditAdmin):
    override_kind = RecordKind.FACILITY
    list_display = (
        "name",
        "external_id",
        "city",
        "state",
        "equipment_count",
        "deleted",
        "condoit_updated_at",
        "synced_at",
    )
    search_fields = ("name", "external_id", "city", "street", "contractor")
    list_filter = ("state", "outdoor_exposure", DeletedFilter, FacilityOverridesFilter)
    readonly_fields = StaffEditAdmin.condoit_readonly + ("equipment_summary",)
    inlines = [EquipmentInline]
    fieldsets = (
        (None, {"fields": ("name", "external_id")}),
        ("Staff overrides", {"fields": ("staff_overrides",)}),
        ("Address", {"fields": ("street", "city", "state", "zip")}),
        (
            "Site",
            {
                "fields": (
                    ("latitude", "longitude"),
                    "year_built",
                    "contractor",
                    ("humidity_avg", "temperature_avg_f"),
                    "outdoor_exposure",
                )
            },
        ),
        (
            "Studies and inspections",
            {"fields": ("arc_flash_study_date", "infrared_scan_date", "last_inspection_at")},
        ),
        ("Equipment", {"fields": ("equipment_summary",)}),
        CONDOIT_FIELDSET,
    )

    def get_queryset(self, request):
        qs = super().get_queryset(request)
        match = getattr(request, "resolver_match", None)
        if match is not None and match.url_name == "facilities_facility_changelist":
            # Only the list needs the count; autocomplete and the change form stay plain.
            qs = qs.annotate(
                equipment_live=Count("equipment", filter=Q(equipment__deleted_at__isnull=True))
            )
        return qs

    @admin.display(description="equipment", ordering="equipment_live")
    def equipment_count(self, obj):
        url = reverse("admin:equipment_equipment_changelist")
        return format_html(
            '<a href="{}?facility__exact={}">{}</a>', url, obj.pk, obj.equipment_live
        )

    @admin.display(description="deleted", boolean=True, ordering="deleted_at")
    def deleted(self, obj):
        return obj.deleted_at is not None

    @admin.display(description="equipment")
    def equipment_summary(self, obj):
        if obj.pk is None:
            return "—"
        counts = obj.equipment.aggregate(
            total=Count("pk"), deleted=Count("pk", filter=Q(deleted_at__isnull=False))
        )
        url = reverse("admin:equipment_equipment_changelist")
        return format_html(
            '{} equipment ({} deleted in Condoit) — <a href="{}?facility__exact={}">'
            "open them in the equipment list</a>",
            counts["total"],
            counts["deleted"],
            url,
            obj.pk,
        )


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


@admin.register(SyncRun)
class SyncRunAdmin(ReadOnlyAdmin):
    list_display = (
        "id",
        "source",
        "label",
        "status",
        "started_at",
        "finished_at",
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
        ("started_at", "finished_at"),
        ("created", "updated", "unchanged", "rejected", "deleted"),
        "warnings_table",
        "error",
        "rejections_link",
    )
    readonly_fields = flatten(fields)
    inlines = [RejectedRecordInline]

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
class RejectedRecordAdmin(ReadOnlyAdmin):
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
        if not obj.raw:
            return "—"
        try:
            text = json.dumps(json.loads(obj.raw), indent=2, sort_keys=True)
        except (ValueError, RecursionError):  # not JSON, or nested too deep to indent
            text = obj.raw
        return format_html("<pre>{}</pre>", text)

    def has_rerun_permission(self, request):
        return request.user.has_perm("facilities.change_rejectedrecord")

    @admin.action(description="Re-run selected rejected records", permissions=["rerun"])
    def rerun_selected(self, request, queryset):
        from facilities.condoit import ingest

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


class PendingFilter(admin.SimpleListFilter):
    title = "recompute"
    parameter_name = "pending"

    def lookups(self, request, model_admin):
        return [("yes", "Pending"), ("no", "Done")]

    def queryset(self, request, queryset):
        if self.value() == "yes":
            return queryset.filter(recomputed_at__isnull=True)
        if self.value() == "no":
            return queryset.filter(recomputed_at__isnull=False)
        return queryset


@admin.register(RecordChange)
class RecordChangeAdmin(ReadOnlyAdmin):
    list_display = (
        "id",
        "kind",
        "external_id",
        "facility_external_id",
        "source",
        "created_at",
        "recomputed_at",
    )
    list_filter = ("kind", "source", PendingFilter)
    search_fields = ("=external_id", "=facility_external_id")
    show_full_result_count = False


# --- Staff overrides --------------------------------------------------------------------------

REMOVE_HELP = (
    "Removing an override gives the field back to Condoit: MasterBus puts Condoit's last-known "
    "value back now, and the next sync (or any later Condoit update) writes Condoit's value again."
)


@admin.register(FieldOverride)
class FieldOverrideAdmin(admin.ModelAdmin):
    list_display = (
        "kind",
        "record_link",
        "field",
        "staff_value",
        "condoit_value_shown",
        "created_by",
        "created_at",
    )
    list_select_related = ("created_by",)
    list_filter = ("kind", "field")
    search_fields = ("=external_id", "field")
    actions = ["remove_overrides"]
    fieldsets = (
        (
            None,
            {
                "description": REMOVE_HELP,
                "fields": (
                    ("kind", "external_id", "field"),
                    "staff_value",
                    "condoit_value_shown",
                    ("created_by", "created_at"),
                ),
            },
        ),
    )
    readonly_fields = (
        "kind",
        "external_id",
        "field",
        "staff_value",
        "condoit_value_shown",
        "created_by",
        "created_at",
    )

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def get_actions(self, request):
        actions = super().get_actions(request)
        actions.pop("delete_selected", None)
        return actions

    def changelist_view(self, request, extra_context=None):
        extra_context = {**(extra_context or {}), "subtitle": REMOVE_HELP}
        return super().changelist_view(request, extra_context)

    @admin.display(description="record", ordering="external_id")
    def record_link(self, obj):
        names = {
            RecordKind.FACILITY: "admin:facilities_facility_changelist",
            RecordKind.EQUIPMENT: "admin:equipment_equipment_changelist",
            RecordKind.MAINTENANCE: "admin:equipment_maintenancerecord_changelist",
        }
        if obj.kind not in names:
            return obj.external_id
        return format_html(
            '<a href="{}?q={}">{}</a>', reverse(names[obj.kind]), obj.external_id, obj.external_id
        )

    @admin.display(description="staff value")
    def staff_value(self, obj):
        return show_value(obj.value)

    @admin.display(description="Condoit value")
    def condoit_value_shown(self, obj):
        return show_value(obj.condoit_value)

    def delete_model(self, request, obj):
        from equipment.services import overrides_remove

        overrides_remove(ids=[obj.pk])

    def delete_queryset(self, request, queryset):
        from equipment.services import overrides_remove

        overrides_remove(ids=list(queryset.values_list("pk", flat=True)))

    @admin.action(
        description="Remove selected overrides (fields go back to Condoit's value)",
        permissions=["delete"],
    )
    def remove_overrides(self, request, queryset):
        from equipment.services import overrides_remove

        n = overrides_remove(ids=list(queryset.values_list("pk", flat=True)))
        self.message_user(
            request, f"Removed {n} override(s); Condoit's values are back.", messages.SUCCESS
        )
