"""Risk in the mirror's admin: the facility and equipment pages and lists with their served
figures (this layer owns the assessments; the lower layers' admins do not know them).

The facility and equipment admins of the lower layers are extended here, not replaced:
their columns, filters and fields stay, the risk ones are added, and the subclasses are
registered in their place. The figures come from ``voltmetrics.admin_selectors`` (the pages)
and ``voltmetrics.admin_list_selectors`` (the lists); the panels are templates
(``admin/voltmetrics/risk/``) shown as read-only fields, coloured by CSS classes
(``voltmetrics/risk.css``) that read in the admin's light and dark themes. Imported by
``voltmetrics/admin.py``.
"""

from django.contrib import admin
from django.db.models import F
from django.template.loader import render_to_string
from django.urls import NoReverseMatch, reverse
from django.utils.html import format_html
from django.utils.http import urlencode
from django.utils.text import slugify

from equipment.admin import EquipmentAdmin
from equipment.admin_records import FacilityWithEquipmentAdmin
from equipment.models import Equipment
from facilities.models import Facility
from masterbus.charts import line_chart

from .admin_list_selectors import (
    FACILITY_RISK,
    LOCAL,
    SERVED,
    equipment_row_risk,
    equipment_with_risk,
    facilities_with_risk,
    facility_row_risk,
    overdue_equipment,
)
from .admin_paging import KeysFirstPaginator
from .admin_selectors import STATUS_70B_LABELS, equipment_risk, facility_risk
from .choices import Rating, Source

NOT_COMPUTED = "Not computed yet"
COMPLIANCE_STATUSES = ("Compliant", "Warning", "Out of Compliance")
RISK_MEDIA = {"all": ("masterbus/charts.css", "voltmetrics/risk.css")}


def css_token(label: str) -> str:
    """A rating, level or status as a CSS class suffix, as the templates' ``slugify`` writes
    it: "Out of Compliance" → out-of-compliance, "due_soon" → due_soon."""
    return slugify(label)


def badge(label: str | None):
    """A coloured badge (``mb-risk-<label>``); "—" when there is no label."""
    if not label:
        return "—"
    return format_html('<span class="mb-risk-badge mb-risk-{}">{}</span>', css_token(label), label)


# --- list filters -------------------------------------------------------------------------------


class _ChoiceFilter(admin.SimpleListFilter):
    """A filter on a stored label (``field``, through a relation of
    ``voltmetrics.admin_list_selectors``); ``none`` keeps the rows without one (``none_field``
    null: nothing computed)."""

    field = ""
    none_field = ""
    options: tuple[tuple[str, str], ...] = ()
    none_label = NOT_COMPUTED

    def lookups(self, request, model_admin):
        return [*self.options, ("none", self.none_label)]

    def queryset(self, request, queryset):
        value = self.value()
        if not value:
            return queryset
        if value == "none":
            return queryset.filter(**{f"{self.none_field or self.field}__isnull": True})
        if value not in {v for v, _ in self.options}:
            return queryset.none()  # a hand-made URL: no row matches an unknown label
        return queryset.filter(**{self.field: value})


class FacilityRiskLevelFilter(_ChoiceFilter):
    title = "risk level"
    parameter_name = "risk_level"
    field = f"{FACILITY_RISK}__risk_level"
    # A facility without counted equipment has no score (its level is stored as "").
    none_field = f"{FACILITY_RISK}__risk_score"
    options = tuple((r.value, r.label) for r in Rating)
    none_label = "Not rated (not computed yet, or no counted equipment)"


class FacilityComplianceFilter(_ChoiceFilter):
    title = "compliance status"
    parameter_name = "compliance"
    field = f"{FACILITY_RISK}__compliance_status"
    none_field = f"{FACILITY_RISK}__overall_compliance"
    options = tuple((s, s) for s in COMPLIANCE_STATUSES)
    none_label = "Not rated (not computed yet, or no counted equipment)"


class FacilityOverdueFilter(admin.SimpleListFilter):
    title = "NFPA 70B maintenance"
    parameter_name = "overdue"

    def lookups(self, request, model_admin):
        return [("yes", "Some equipment overdue"), ("no", "No equipment overdue")]

    def queryset(self, request, queryset):
        if self.value() == "yes":
            return queryset.filter(overdue_equipment())
        if self.value() == "no":
            return queryset.exclude(overdue_equipment())
        return queryset


class EquipmentRatingFilter(_ChoiceFilter):
    title = "risk rating"
    parameter_name = "rating"
    field = f"{SERVED}__rating"
    options = tuple((r.value, r.label) for r in Rating)


class Equipment70BFilter(_ChoiceFilter):
    title = "NFPA 70B maintenance"
    parameter_name = "nfpa70b"
    field = f"{LOCAL}__maintenance_status"
    options = tuple(STATUS_70B_LABELS.items())


class EquipmentServedSourceFilter(_ChoiceFilter):
    title = "risk served by"
    parameter_name = "served_by"
    field = f"{SERVED}__source"
    options = tuple((s.value, s.label) for s in Source)


# --- shared ------------------------------------------------------------------------------------


class RiskPanelMixin:
    """Renders a risk panel template as a read-only field's HTML."""

    def admin_url(self, name: str, *args, query: dict | None = None) -> str:
        try:
            url = reverse(f"{self.admin_site.name}:{name}", args=args)
        except NoReverseMatch:  # pragma: no cover - a site without that model
            return ""
        return f"{url}?{urlencode(query)}" if query else url

    def panel(self, template: str, context: dict):
        return render_to_string(f"admin/voltmetrics/risk/{template}", context)


def _ordering(field: str):
    # Not computed (null) sorts below every value on every database: first going up, last
    # going down (the admin reverses this ordering, nulls included, for a descending sort).
    return F(field).asc(nulls_first=True)


# --- the facility admin ------------------------------------------------------------------------


class FacilityRiskAdmin(RiskPanelMixin, FacilityWithEquipmentAdmin):
    """The facility admin with the facility's served risk and compliance."""

    list_display = (
        *FacilityWithEquipmentAdmin.list_display[:2],
        "risk_score_column",
        "risk_level_column",
        "overall_compliance_column",
        "compliance_status_column",
        *FacilityWithEquipmentAdmin.list_display[2:],
    )
    list_filter = (
        *FacilityWithEquipmentAdmin.list_filter,
        FacilityRiskLevelFilter,
        FacilityComplianceFilter,
        FacilityOverdueFilter,
    )
    readonly_fields = (*FacilityWithEquipmentAdmin.readonly_fields, "risk_panel")
    fieldsets = (
        *FacilityWithEquipmentAdmin.fieldsets[:1],
        ("Risk and compliance", {"classes": ("wide", "mb-risk"), "fields": ("risk_panel",)}),
        *FacilityWithEquipmentAdmin.fieldsets[1:],
    )

    class Media:
        css = RISK_MEDIA

    def get_queryset(self, request):
        return facilities_with_risk(super().get_queryset(request))

    @admin.display(description="risk score", ordering=_ordering(f"{FACILITY_RISK}__risk_score"))
    def risk_score_column(self, obj):
        a = facility_row_risk(obj)
        return "—" if a is None or a.risk_score is None else a.risk_score

    @admin.display(description="risk level", ordering=_ordering(f"{FACILITY_RISK}__risk_score"))
    def risk_level_column(self, obj):
        a = facility_row_risk(obj)
        return badge(a.risk_level if a else "")

    @admin.display(
        description="compliance", ordering=_ordering(f"{FACILITY_RISK}__overall_compliance")
    )
    def overall_compliance_column(self, obj):
        a = facility_row_risk(obj)
        return "—" if a is None or a.overall_compliance is None else f"{a.overall_compliance}%"

    @admin.display(
        description="compliance status",
        ordering=_ordering(f"{FACILITY_RISK}__overall_compliance"),
    )
    def compliance_status_column(self, obj):
        a = facility_row_risk(obj)
        return badge(a.compliance_status if a else "")

    @admin.display(description="risk")
    def risk_panel(self, obj):
        risk = facility_risk(obj.pk) if obj.pk is not None else None
        chart = None
        if risk is not None and (risk.history or risk.forecast):
            chart = line_chart(
                history=risk.history,
                forecast=risk.forecast,
                title="Risk score: the last 6 months and the 3-month forecast",
            )
        threats = []
        if risk is not None:
            threats = [
                (t, self.admin_url("equipment_equipment_change", t.pk)) for t in risk.top_threats
            ]
        actions = []
        if risk is not None:
            for r in risk.recommendations:
                url = ""
                if r.affected_equipment:
                    url = self.admin_url(
                        "equipment_equipment_changelist",
                        query={"external_id__in": ",".join(r.affected_equipment)},
                    )
                actions.append((r, url))
        return self.panel(
            "facility.html",
            {
                "risk": risk,
                "chart": chart,
                "threats": threats,
                "actions": actions,
                "not_computed": NOT_COMPUTED,
                "assessments_url": self.admin_url(
                    "voltmetrics_facilityassessment_changelist",
                    query={"facility__id__exact": obj.pk},
                ),
            },
        )


# --- the equipment admin -----------------------------------------------------------------------


class EquipmentRiskAdmin(RiskPanelMixin, EquipmentAdmin):
    """The equipment admin with the equipment's served assessment, and both sources'."""

    list_display = (
        *EquipmentAdmin.list_display[:3],
        "risk_score_column",
        "rating_column",
        "condition_column",
        *EquipmentAdmin.list_display[3:],
    )
    list_filter = (
        *EquipmentAdmin.list_filter,
        EquipmentRatingFilter,
        Equipment70BFilter,
        EquipmentServedSourceFilter,
    )
    # 100,000 equipment sorted by score: the page's keys first, then its rows.
    paginator = KeysFirstPaginator
    readonly_fields = (*EquipmentAdmin.readonly_fields, "risk_panel")
    fieldsets = (
        *EquipmentAdmin.fieldsets[:1],
        ("Risk and compliance", {"classes": ("wide", "mb-risk"), "fields": ("risk_panel",)}),
        *EquipmentAdmin.fieldsets[1:],
    )

    class Media:
        css = RISK_MEDIA

    def get_queryset(self, request):
        return equipment_with_risk(super().get_queryset(request))

    @admin.display(description="risk score", ordering=_ordering(f"{SERVED}__risk_score"))
    def risk_score_column(self, obj):
        r = equipment_row_risk(obj)
        return "—" if r.risk_score is None else r.risk_score

    @admin.display(description="risk rating", ordering=_ordering(f"{SERVED}__risk_score"))
    def rating_column(self, obj):
        return badge(equipment_row_risk(obj).rating)

    @admin.display(description="condition", ordering=_ordering(f"{LOCAL}__condition"))
    def condition_column(self, obj):
        return equipment_row_risk(obj).condition or "—"

    @admin.display(description="risk")
    def risk_panel(self, obj):
        risk = equipment_risk(obj.pk) if obj.pk is not None else None
        return self.panel(
            "equipment.html",
            {
                "risk": risk,
                "not_computed": NOT_COMPUTED,
                "assessments_url": self.admin_url(
                    "voltmetrics_equipmentassessment_changelist",
                    query={"q": obj.external_id},
                ),
            },
        )


admin.site.unregister(Facility)
admin.site.register(Facility, FacilityRiskAdmin)
admin.site.unregister(Equipment)
admin.site.register(Equipment, EquipmentRiskAdmin)
