"""Admin for the Facility mirror, the change outbox and staff overrides.

The sync bookkeeping (runs, rejections, cursors, processed events) is administered by Condoit
ingestion (``condoit/admin.py``); the facility page's equipment inline is added by the
equipment app (``equipment/admin.py``)."""

import logging

from django.contrib import admin
from django.db.models import Count, IntegerField, OuterRef, Q, Subquery
from django.db.models.functions import Coalesce
from django.urls import reverse
from django.utils.html import format_html

from .admin_csv import CsvExportMixin, is_list_request
from .admin_support import (
    CONDOIT_FIELDSET,
    DeletedFilter,
    HasOverridesFilter,
    ReadOnlyAdmin,
    StaffEditAdmin,
)
from .choices import RecordKind
from .models import (
    Facility,
    RecordChange,
)

logger = logging.getLogger(__name__)

admin.site.site_header = "MasterBus administration"
admin.site.site_title = "MasterBus administration"
admin.site.index_title = "MasterBus"


# --- Facility -------------------------------------------------------------------------------


class FacilityOverridesFilter(HasOverridesFilter):
    kind = RecordKind.FACILITY


def live_equipment_count():
    """A facility's live equipment, as a subquery: the list's count and filters stay plain
    queries of the facility table (a join and GROUP BY would run over every equipment)."""
    equipment = Facility._meta.get_field("equipment").related_model  # no import upwards
    counted = (
        equipment.objects.filter(facility=OuterRef("pk"), deleted_at__isnull=True)
        .order_by()
        .values("facility")
        .annotate(n=Count("pk"))
        .values("n")
    )
    return Coalesce(Subquery(counted, output_field=IntegerField()), 0)


@admin.register(Facility)
class FacilityAdmin(CsvExportMixin, StaffEditAdmin):
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

    csv_columns = (
        "id", "external_id", "name", "street", "city", "state", "zip", "latitude", "longitude",
        "year_built", "contractor", "humidity_avg", "temperature_avg_f", "outdoor_exposure",
        "arc_flash_study_date", "infrared_scan_date", "last_inspection_at",
        ("live_equipment", "equipment_live"), "deleted_at", "condoit_updated_at", "synced_at",
    )  # fmt: skip

    def get_queryset(self, request):
        qs = super().get_queryset(request)
        if is_list_request(request):
            # Only the list (and its CSV export) needs the count; autocomplete and the change
            # form stay plain.
            qs = qs.annotate(equipment_live=live_equipment_count())
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


# --- The change outbox and overrides ------------------------------------------------------


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
