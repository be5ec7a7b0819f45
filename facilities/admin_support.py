"""Admin pieces shared by the mirror admins: list filters, limited inlines, staff overrides."""

import datetime
import decimal
import json

from django.contrib import admin
from django.core.exceptions import FieldDoesNotExist
from django.db import models, transaction
from django.db.models import Exists, OuterRef
from django.forms.models import BaseInlineFormSet
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.text import Truncator

from .choices import ChangeSource, RecordKind
from .models import FieldOverride
from .services import changes_record, override_set


def json_safe(value):
    """A value as an override stores it: dates as ISO strings, records as their Condoit id."""
    if isinstance(value, models.Model):
        return getattr(value, "external_id", None) or value.pk
    if isinstance(value, datetime.date | datetime.datetime | datetime.time):
        return value.isoformat()
    if isinstance(value, decimal.Decimal):
        return str(value)
    if isinstance(value, dict):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_safe(v) for v in value]
    return value


def show_value(value) -> str:
    """A short, readable rendering of an override value."""
    if value is None:
        return "—"
    if isinstance(value, dict | list):
        return Truncator(json.dumps(value, sort_keys=True)).chars(120)
    if value == "":
        return "(empty)"
    return Truncator(str(value)).chars(120)


# The read-only bookkeeping every mirrored record's change form shows.
CONDOIT_FIELDSET = (
    "Condoit",
    {
        "classes": ("collapse",),
        "description": "Written by the Condoit sync; not editable.",
        "fields": (
            ("condoit_created_at", "condoit_updated_at"),
            "deleted_at",
            ("synced_at", "changed_at"),
            "content_hash",
            "extra_json",
        ),
    },
)


class DeletedFilter(admin.SimpleListFilter):
    """Soft-deleted in Condoit (``deleted_at`` set) or not."""

    title = "deleted"
    parameter_name = "deleted"

    def lookups(self, request, model_admin):
        return [("no", "No (live)"), ("yes", "Yes (deleted in Condoit)")]

    def queryset(self, request, queryset):
        if self.value() == "yes":
            return queryset.filter(deleted_at__isnull=False)
        if self.value() == "no":
            return queryset.filter(deleted_at__isnull=True)
        return queryset


class HasOverridesFilter(admin.SimpleListFilter):
    """Records with at least one staff override; set ``kind`` in a subclass."""

    title = "staff overrides"
    parameter_name = "overridden"
    kind = ""

    def lookups(self, request, model_admin):
        return [("yes", "Has overrides"), ("no", "No overrides")]

    def queryset(self, request, queryset):
        overridden = Exists(
            FieldOverride.objects.filter(kind=self.kind, external_id=OuterRef("external_id"))
        )
        if self.value() == "yes":
            return queryset.filter(overridden)
        if self.value() == "no":
            return queryset.exclude(overridden)
        return queryset


class LimitedInlineFormSet(BaseInlineFormSet):
    """Shows only the first ``limit`` rows (of the inline's ordering); the rest are linked."""

    limit = 50

    def get_queryset(self):
        if not hasattr(self, "_queryset"):
            self._queryset = super().get_queryset()[: self.limit]
        return self._queryset


def limited_formset(limit: int) -> type[LimitedInlineFormSet]:
    return type("LimitedInlineFormSet", (LimitedInlineFormSet,), {"limit": limit})


class ReadOnlyInline:
    """An inline that only shows rows: no add, change or delete from the parent form."""

    extra = 0
    max_num = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class ReadOnlyAdmin(admin.ModelAdmin):
    """View-only: no add, change or delete (bookkeeping written by the ingestion)."""

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class StaffEditAdmin(admin.ModelAdmin):
    """Change form of a Condoit mirror: staff edits of mirrored fields become overrides.

    Subclasses set ``override_kind`` (a RecordKind) and ``own_fields`` (MasterBus-own fields
    whose edits are recorded as a change but are not overrides). Records are never added or
    deleted here: Condoit owns their identity and their soft delete.
    """

    override_kind = ""
    own_fields: frozenset[str] = frozenset()
    condoit_readonly = (
        "external_id",
        "condoit_created_at",
        "condoit_updated_at",
        "deleted_at",
        "synced_at",
        "changed_at",
        "content_hash",
        "extra_json",
        "staff_overrides",
    )

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    # --- showing overrides --------------------------------------------------------------

    def overrides_of(self, obj) -> dict[str, FieldOverride]:
        if obj is None or obj.pk is None:
            return {}
        cached = getattr(obj, "_staff_overrides", None)
        if cached is None:
            cached = {
                ov.field: ov
                for ov in FieldOverride.objects.filter(
                    kind=self.override_kind, external_id=obj.external_id
                ).select_related("created_by")
            }
            obj._staff_overrides = cached
        return cached

    def form_field_for(self, override_field: str) -> str:
        """The form field that edits an override's field (facility_id -> facility)."""
        try:
            return self.model._meta.get_field(override_field).name
        except FieldDoesNotExist:
            return override_field

    def show_override_value(self, field_name: str, value) -> str:
        """Readable value; references (stored as primary keys) shown as the record."""
        try:
            field = self.model._meta.get_field(field_name)
        except FieldDoesNotExist:
            field = None
        if field is not None and field.is_relation and field_name == field.attname and value:
            target = field.related_model._default_manager.filter(pk=value).first()
            return str(target) if target is not None else f"#{value} (gone)"
        return show_value(value)

    def get_form(self, request, obj=None, change=False, **kwargs):
        form = super().get_form(request, obj, change=change, **kwargs)
        for name, ov in self.overrides_of(obj).items():
            field = form.base_fields.get(self.form_field_for(name))
            if field is None:
                continue
            note = format_html(
                "<strong>Staff override</strong> (wins over Condoit) — Condoit's value: {}",
                self.show_override_value(name, ov.condoit_value),
            )
            field.help_text = (
                format_html("{}<br>{}", field.help_text, note) if field.help_text else note
            )
        return form

    @admin.display(description="Staff overrides")
    def staff_overrides(self, obj):
        overrides = self.overrides_of(obj)
        if not overrides:
            return "None: every field shows Condoit's value."
        rows = format_html_join(
            "",
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td>"
            '<td><a href="{}">history</a> · <a href="{}">remove</a></td></tr>',
            (
                (
                    self.form_field_for(name),
                    self.show_override_value(name, ov.value),
                    self.show_override_value(name, ov.condoit_value),
                    ov.created_by or "—",
                    timezone.localtime(ov.created_at).strftime("%Y-%m-%d %H:%M"),
                    reverse("admin:facilities_fieldoverride_history", args=[ov.pk]),
                    reverse("admin:facilities_fieldoverride_delete", args=[ov.pk]),
                )
                for name, ov in sorted(overrides.items())
            ),
        )
        return format_html(
            '<table class="staff-overrides"><thead><tr><th>field</th><th>staff value</th>'
            "<th>Condoit value</th><th>by</th><th>when</th><th></th></tr></thead>"
            "<tbody>{}</tbody></table>",
            rows,
        )

    @admin.display(description="extra (keys MasterBus does not model)")
    def extra_json(self, obj):
        if not obj.extra:
            return "—"
        return format_html("<pre>{}</pre>", json.dumps(obj.extra, indent=2, sort_keys=True))

    # --- saving ---------------------------------------------------------------------------

    def staff_edit_fields(self, form, obj, old) -> list[str]:
        """Model fields the staff edit changed (names as overrides store them)."""
        names = {f.name for f in obj._meta.concrete_fields}
        return [f for f in form.changed_data if f in names]

    def facility_external_ids(self, obj, old) -> set[str]:
        return {obj.external_id}

    def equipment_left(self, obj, old) -> list[tuple[str, str]]:
        """Equipment the edit moved a record away from, as (external id, facility external
        id): their figures change too."""
        return []

    def save_model(self, request, obj, form, change):
        if not change:
            super().save_model(request, obj, form, change)
            return
        with transaction.atomic():
            old = type(obj)._default_manager.get(pk=obj.pk)
            changed = self.staff_edit_fields(form, obj, old)
            if changed:
                obj.changed_at = timezone.now()
            super().save_model(request, obj, form, change)
            if not changed:
                return
            for name in changed:
                if name in self.own_fields:
                    continue
                # A reference is stored under its column (facility_id) as the ingestion
                # applies overrides to its cleaned columns.
                attname = obj._meta.get_field(name).attname
                override_set(
                    kind=self.override_kind,
                    external_id=obj.external_id,
                    field=attname,
                    value=json_safe(getattr(obj, attname)),
                    condoit_value=json_safe(getattr(old, attname)),
                    user=request.user,
                )
            changes_record(
                kind=self.override_kind,
                items=[
                    (obj.external_id, fac) for fac in sorted(self.facility_external_ids(obj, old))
                ],
                source=ChangeSource.STAFF,
            )
            if left := self.equipment_left(obj, old):
                changes_record(kind=RecordKind.EQUIPMENT, items=left, source=ChangeSource.STAFF)
