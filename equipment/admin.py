"""Admin for equipment, maintenance history and the curated mappings."""

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.db.models import Exists, OuterRef
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html
from django.utils.http import urlencode

from facilities.admin_autocomplete import AutocompleteFilterMedia, AutocompleteListFilter
from facilities.admin_csv import CsvExportMixin
from facilities.admin_support import (
    CONDOIT_FIELDSET,
    DeletedFilter,
    HasOverridesFilter,
    ReadOnlyInline,
    StaffEditAdmin,
    limited_formset,
)
from facilities.choices import RecordKind
from masterbus.admin_history import HistoryAdmin
from masterbus.admin_widgets import PlainSelect

from .choices import Material
from .models import (
    Conductor,
    Equipment,
    EquipmentClassMapping,
    MaintenanceRecord,
    MaterialMapping,
    Photo,
    TypeProfile,
    normalize_key,
)
from .services import (
    class_mapping_apply,
    equipment_type_for_class,
    material_mapping_apply,
)
from .unmapped import unmapped_classes

INLINE_MAINTENANCE_LIMIT = 50
INLINE_EQUIPMENT_LIMIT = 100


# --- Equipment ------------------------------------------------------------------------------


class EquipmentOverridesFilter(HasOverridesFilter):
    kind = RecordKind.EQUIPMENT


class ConductorMaterialFilter(admin.SimpleListFilter):
    """Equipment with at least one conductor of the chosen (mapped) material."""

    title = "conductor material"
    parameter_name = "material"

    def lookups(self, request, model_admin):
        return [
            *Material.choices,
            ("unknown", "Unknown (unmapped code)"),
            ("none", "No conductors"),
        ]

    def queryset(self, request, queryset):
        value = self.value()
        if not value:
            return queryset
        conductors = Conductor.objects.filter(equipment=OuterRef("pk"))
        if value == "none":
            return queryset.exclude(Exists(conductors))
        material = "" if value == "unknown" else value
        return queryset.filter(Exists(conductors.filter(material=material)))


class ConductorInline(ReadOnlyInline, admin.TabularInline):
    model = Conductor
    fields = (
        "external_id",
        "material_code",
        "material",
        "size",
        "connection_type",
        "al_cu_transition",
    )
    readonly_fields = fields


class PhotoInline(ReadOnlyInline, admin.TabularInline):
    model = Photo
    fields = ("external_id", "link", "caption", "taken_at", "status", "fetched_at", "error")
    readonly_fields = fields

    @admin.display(description="image")
    def link(self, obj):
        if obj.image:
            return format_html('<a href="{}">stored copy</a>', obj.image.url)
        return format_html('<a href="{}" rel="noreferrer">Condoit URL</a>', obj.url)


class MaintenanceInline(ReadOnlyInline, admin.TabularInline):
    model = MaintenanceRecord
    formset = limited_formset(INLINE_MAINTENANCE_LIMIT)
    fields = ("external_id", "type", "performed_at", "technician", "next_service_due", "deleted_at")
    readonly_fields = fields
    ordering = ("-performed_at", "external_id")
    show_change_link = True
    verbose_name_plural = f"maintenance records (latest {INLINE_MAINTENANCE_LIMIT})"


@admin.register(Equipment)
class EquipmentAdmin(CsvExportMixin, StaffEditAdmin):
    override_kind = RecordKind.EQUIPMENT
    own_fields = frozenset({"life_years_override", "interval_months_override"})
    list_display = (
        "name",
        "external_id",
        "facility",
        "type",
        "equipment_class",
        "class_mapped",
        "install_date",
        "deleted",
    )
    list_select_related = ("facility",)
    show_full_result_count = False  # one count of 100,000s of rows per page is enough
    search_fields = (
        "name",
        "external_id",
        "serial_number",
        "manufacturer",
        "equipment_class",
        "facility__name",
    )
    list_filter = (
        ("facility", AutocompleteListFilter),
        "type",
        ConductorMaterialFilter,
        DeletedFilter,
        "class_mapped",
        EquipmentOverridesFilter,
    )
    Media = AutocompleteFilterMedia()  # the autocomplete filters' select2
    autocomplete_fields = ("facility", "feeds_from")
    csv_columns = (
        "id", "external_id", "name", ("facility_external_id", "facility__external_id"),
        ("facility_name", "facility__name"), "equipment_class", "type", "class_mapped",
        "manufacturer", "model", "serial_number", "install_date", "building", "room",
        "latitude", "longitude", "feeds_from_external_id", "load_percent",
        "serves_critical_load", "label_present", "incident_energy_cal_cm2", "ppe_category",
        "label_date", "life_years_override", "interval_months_override", "deleted_at",
        "condoit_updated_at", "synced_at",
    )  # fmt: skip
    readonly_fields = StaffEditAdmin.condoit_readonly + (
        "type",
        "class_mapped",
        "feeds_from_external_id",
        "maintenance_summary",
    )
    inlines = [ConductorInline, PhotoInline, MaintenanceInline]
    fieldsets = (
        (
            None,
            {
                "description": (
                    "The type follows the class mapping: change the mapping, or edit the "
                    "Condoit class here (an override) to re-type this one equipment."
                ),
                "fields": (
                    "name",
                    "external_id",
                    "facility",
                    "equipment_class",
                    ("type", "class_mapped"),
                ),
            },
        ),
        ("Staff overrides", {"fields": ("staff_overrides",)}),
        ("Nameplate", {"fields": ("manufacturer", "model", "serial_number", "install_date")}),
        (
            "Location",
            {
                "fields": (
                    ("building", "room"),
                    ("latitude", "longitude"),
                    ("feeds_from", "feeds_from_external_id"),
                )
            },
        ),
        (
            "Condition and load",
            {"fields": ("specs", "observations", "load_percent", "serves_critical_load")},
        ),
        (
            "Arc flash label",
            {
                "fields": (
                    "label_present",
                    ("incident_energy_cal_cm2", "ppe_category"),
                    "label_date",
                )
            },
        ),
        (
            "MasterBus (not from Condoit)",
            {
                "description": "Overrides of the type profile for this equipment only.",
                "fields": ("life_years_override", "interval_months_override"),
            },
        ),
        ("Maintenance", {"fields": ("maintenance_summary",)}),
        CONDOIT_FIELDSET,
    )

    @admin.display(description="deleted", boolean=True, ordering="deleted_at")
    def deleted(self, obj):
        return obj.deleted_at is not None

    @admin.display(description="maintenance")
    def maintenance_summary(self, obj):
        if obj.pk is None:
            return "—"
        url = reverse("admin:equipment_maintenancerecord_changelist")
        return format_html(
            '{} records — <a href="{}?equipment__exact={}">open them in the maintenance list</a>',
            obj.maintenance.count(),
            url,
            obj.pk,
        )

    def form_field_for(self, override_field):
        if override_field == "feeds_from_external_id":
            return "feeds_from"
        return super().form_field_for(override_field)

    def staff_edit_fields(self, form, obj, old):
        changed = super().staff_edit_fields(form, obj, old)
        if "equipment_class" in changed:
            obj.type, obj.class_mapped = equipment_type_for_class(
                equipment_class=obj.equipment_class
            )
        if "feeds_from" in changed:
            # Condoit's feedsFromId is mirrored by feeds_from_external_id; the FK follows it.
            obj.feeds_from_external_id = obj.feeds_from.external_id if obj.feeds_from else ""
            changed = ["feeds_from_external_id" if f == "feeds_from" else f for f in changed]
        return changed

    def facility_external_ids(self, obj, old):
        return {obj.facility.external_id, old.facility.external_id}


# --- Maintenance ----------------------------------------------------------------------------


class MaintenanceOverridesFilter(HasOverridesFilter):
    kind = RecordKind.MAINTENANCE


@admin.register(MaintenanceRecord)
class MaintenanceRecordAdmin(StaffEditAdmin):
    override_kind = RecordKind.MAINTENANCE
    list_display = ("external_id", "equipment", "type", "performed_at", "technician", "deleted")
    list_select_related = ("equipment",)
    show_full_result_count = False  # one count of 100,000s of rows per page is enough
    list_filter = (
        "type",
        DeletedFilter,
        ("equipment__facility", AutocompleteListFilter),
        ("equipment", AutocompleteListFilter),
        MaintenanceOverridesFilter,
    )
    Media = AutocompleteFilterMedia()  # the autocomplete filters' select2
    search_fields = ("external_id", "technician", "equipment__name", "equipment__external_id")
    autocomplete_fields = ("equipment",)
    readonly_fields = StaffEditAdmin.condoit_readonly
    fieldsets = (
        (None, {"fields": ("external_id", "equipment", "type", "performed_at", "technician")}),
        ("Staff overrides", {"fields": ("staff_overrides",)}),
        ("Work", {"fields": ("findings", "actions_taken", "next_service_due")}),
        CONDOIT_FIELDSET,
    )

    @admin.display(description="deleted", boolean=True, ordering="deleted_at")
    def deleted(self, obj):
        return obj.deleted_at is not None

    def facility_external_ids(self, obj, old):
        ids = {obj.equipment.facility.external_id}
        if old.equipment_id != obj.equipment_id:
            ids.add(old.equipment.facility.external_id)
        return ids

    def equipment_left(self, obj, old):
        if old.equipment_id == obj.equipment_id:
            return []
        return [(old.equipment.external_id, old.equipment.facility.external_id)]


# --- Mappings -------------------------------------------------------------------------------


class _MappingKeyForm(forms.ModelForm):
    """Mapping keys are stored normalised; normalising here makes the unique check see the
    stored key."""

    key_field = ""
    key_label = ""

    def clean(self):
        cleaned = super().clean()
        if self.key_field in cleaned:
            key = normalize_key(cleaned[self.key_field])
            if not key:
                self.add_error(self.key_field, f"Enter a {self.key_label}.")
            cleaned[self.key_field] = key
        return cleaned


class ClassMappingForm(_MappingKeyForm):
    key_field, key_label = "condoit_class", "Condoit class"

    class Meta:
        model = EquipmentClassMapping
        fields = ("condoit_class", "type")


class MaterialMappingForm(_MappingKeyForm):
    key_field, key_label = "code", "material code"

    class Meta:
        model = MaterialMapping
        fields = ("code", "material")


class ReapplyingMappingAdmin(HistoryAdmin):
    """Saving or deleting a mapping brings the mirrored records in line, in one transaction."""

    key_field = ""

    def get_changelist_form(self, request, **kwargs):
        # The editable column's select, once per row: rendered without a template per option.
        kwargs.setdefault("widgets", {field: PlainSelect for field in self.list_editable})
        return super().get_changelist_form(request, **kwargs)

    def apply(self, key: str) -> int:
        raise NotImplementedError

    def done_message(self, n: int) -> str:
        raise NotImplementedError

    def save_model(self, request, obj, form, change):
        with transaction.atomic():
            old_key = None
            if change:
                old_key = (
                    type(obj)
                    .objects.filter(pk=obj.pk)
                    .values_list(self.key_field, flat=True)
                    .first()
                )
            super().save_model(request, obj, form, change)
            n = self.apply(getattr(obj, self.key_field))
            if old_key and old_key != getattr(obj, self.key_field):
                n += self.apply(old_key)
        self.message_user(request, self.done_message(n), messages.SUCCESS)

    def delete_model(self, request, obj):
        key = getattr(obj, self.key_field)
        with transaction.atomic():
            super().delete_model(request, obj)
            n = self.apply(key)
        self.message_user(request, self.done_message(n), messages.SUCCESS)

    def delete_queryset(self, request, queryset):
        with transaction.atomic():
            keys = list(queryset.values_list(self.key_field, flat=True))
            super().delete_queryset(request, queryset)
            n = sum(self.apply(key) for key in keys)
        self.message_user(request, self.done_message(n), messages.SUCCESS)


@admin.register(EquipmentClassMapping)
class EquipmentClassMappingAdmin(ReapplyingMappingAdmin):
    form = ClassMappingForm
    key_field = "condoit_class"
    list_display = ("condoit_class", "type", "updated_at")
    list_editable = ("type",)
    list_filter = ("type",)
    search_fields = ("condoit_class",)

    def apply(self, key):
        return class_mapping_apply(mapping_key=key)

    def done_message(self, n):
        return f"Re-typed {n} equipment."

    def get_urls(self):
        return [
            path(
                "unmapped/",
                self.admin_site.admin_view(self.unmapped_view),
                name="equipment_equipmentclassmapping_unmapped",
            ),
            *super().get_urls(),
        ]

    def unmapped_view(self, request):
        """Condoit classes typed as other for want of a mapping, most common first."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        add_url = reverse("admin:equipment_equipmentclassmapping_add")
        list_url = reverse("admin:equipment_equipment_changelist")
        rows = []
        for entry in unmapped_classes():
            rows.append(
                {
                    "key": entry.key,
                    "spelling": entry.spelling,
                    "live": entry.live,
                    "total": entry.total,
                    "deleted": entry.deleted,
                    "add_url": f"{add_url}?{urlencode({'condoit_class': entry.spelling})}",
                    "list_url": f"{list_url}?"
                    + urlencode(
                        {"class_mapped__exact": "0", "equipment_class__iexact": entry.spelling}
                    ),
                }
            )
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": "Unmapped Condoit classes",
            "rows": rows,
            "has_add_permission": self.has_add_permission(request),
        }
        return TemplateResponse(
            request, "admin/equipment/equipmentclassmapping/unmapped.html", context
        )


@admin.register(MaterialMapping)
class MaterialMappingAdmin(ReapplyingMappingAdmin):
    form = MaterialMappingForm
    key_field = "code"
    list_display = ("code", "material", "updated_at")
    list_editable = ("material",)
    list_filter = ("material",)
    search_fields = ("code",)

    def apply(self, key):
        return material_mapping_apply(code_key=key)

    def done_message(self, n):
        return f"Re-mapped {n} conductors."


@admin.register(TypeProfile)
class TypeProfileAdmin(HistoryAdmin):
    list_display = ("type", "life_years", "interval_months", "importance", "updated_at")
    list_editable = ("life_years", "interval_months", "importance")
    readonly_fields = ("updated_at",)


# The facility page's equipment and the staff overrides of every kind of record.
from . import admin_records  # noqa: E402, F401
