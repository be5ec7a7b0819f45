"""Admin pages the equipment app adds for records of other kinds: the facility page with its
equipment (the facilities app does not know equipment) and the staff overrides of facility,
equipment and maintenance records (removing one restores the record: equipment.services).
Imported by ``equipment/admin.py``."""

from django.contrib import admin, messages
from django.db.models import Q
from django.urls import reverse
from django.utils.html import format_html

from facilities.admin import FacilityAdmin
from facilities.admin_autocomplete import AutocompleteFilter, AutocompleteFilterMedia
from facilities.admin_support import ReadOnlyInline, limited_formset, show_value
from facilities.choices import RecordKind
from facilities.models import Facility, FieldOverride
from masterbus.admin_history import HistoryAdmin

from .models import Equipment, MaintenanceRecord
from .services import overrides_remove

# A facility holds up to hundreds of equipment; the page lists the first few (each row is a
# read-only form: 100 rows took ~400 ms to render) and links to the filtered equipment list.
INLINE_EQUIPMENT_LIMIT = 25


# --- The facility page's equipment ----------------------------------------------------------


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


class FacilityWithEquipmentAdmin(FacilityAdmin):
    """The facility admin of the facilities app, with its equipment listed on the page
    (registered here: the facilities app does not know equipment)."""

    inlines = [*FacilityAdmin.inlines, EquipmentInline]


admin.site.unregister(Facility)
admin.site.register(Facility, FacilityWithEquipmentAdmin)


# --- Staff overrides (facility, equipment and maintenance records) ---------------------------


REMOVE_HELP = (
    "Removing an override gives the field back to Condoit: MasterBus puts Condoit's last-known "
    "value back now, and the next sync (or any later Condoit update) writes Condoit's value again."
)


class OverrideFacilityFilter(AutocompleteFilter):
    """The staff overrides of one facility's records: its own, its equipment's and their
    maintenance records' (overrides name records by Condoit id, not by foreign key)."""

    title = "facility"
    parameter_name = "facility"

    def autocomplete_field(self):
        return Equipment._meta.get_field("facility")

    def queryset_for(self, queryset, value):
        return queryset.filter(
            Q(
                kind=RecordKind.FACILITY,
                external_id__in=Facility.objects.filter(pk=value).values("external_id"),
            )
            | Q(
                kind=RecordKind.EQUIPMENT,
                external_id__in=Equipment.objects.filter(facility_id=value).values("external_id"),
            )
            | Q(
                kind=RecordKind.MAINTENANCE,
                external_id__in=MaintenanceRecord.objects.filter(
                    equipment__facility_id=value
                ).values("external_id"),
            )
        )


@admin.register(FieldOverride)
class FieldOverrideAdmin(HistoryAdmin):
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
    list_filter = ("kind", "field", OverrideFacilityFilter)
    Media = AutocompleteFilterMedia()  # the facility filter's select2
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
        overrides_remove(ids=[obj.pk])

    def delete_queryset(self, request, queryset):
        overrides_remove(ids=list(queryset.values_list("pk", flat=True)))

    @admin.action(
        description="Remove selected overrides (fields go back to Condoit's value)",
        permissions=["delete"],
    )
    def remove_overrides(self, request, queryset):
        n = overrides_remove(ids=list(queryset.values_list("pk", flat=True)))
        self.message_user(
            request, f"Removed {n} override(s); Condoit's values are back.", messages.SUCCESS
        )
