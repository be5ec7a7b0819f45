"""Admin for risk-model versions and the stored risk figures (read-only)."""

import json

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.utils.html import format_html, format_html_join

from equipment.models import TypeProfile
from facilities.admin_autocomplete import AutocompleteFilterMedia, AutocompleteListFilter
from facilities.admin_support import ReadOnlyAdmin
from masterbus.admin_history import HistoryAdmin

from .choices import VersionStatus
from .engine import FACTORS
from .models import (
    EquipmentAssessment,
    FacilityAssessment,
    FacilitySnapshot,
    ModelVersion,
    PortfolioAssessment,
    PortfolioSnapshot,
)
from .versions import (
    THRESHOLD_KEYS,
    model_thresholds_validate,
    model_version_copy,
    model_version_publish,
    model_weights_validate,
)

# --- model versions ---------------------------------------------------------------------------


class ModelVersionForm(forms.ModelForm):
    """A draft: weights and thresholds as JSON, validated like publishing validates them."""

    class Meta:
        model = ModelVersion
        fields = ("version", "weights", "thresholds", "notes")
        help_texts = {
            "weights": "The six factors (" + ", ".join(FACTORS) + "), each ≥ 0, summing to 1.",
            "thresholds": "Integers with 0 < low_max < medium_max < high_max < 100, e.g. "
            '{"low_max": 40, "medium_max": 70, "high_max": 85}.',
        }

    def clean_weights(self):
        return model_weights_validate(self.cleaned_data.get("weights"))

    def clean_thresholds(self):
        return model_thresholds_validate(self.cleaned_data.get("thresholds"))


def _profiles_table(profiles: dict):
    if not profiles:
        return "—"
    rows = format_html_join(
        "",
        "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
        (
            (t, _num(p.get("life_years")), p.get("interval_months"), _num(p.get("importance")))
            for t, p in sorted(profiles.items())
        ),
    )
    return format_html(
        '<table class="model-profiles"><thead><tr><th>Type</th><th>Expected life (years)</th>'
        "<th>Interval (months)</th><th>Importance</th></tr></thead><tbody>{}</tbody></table>",
        rows,
    )


def _num(x):
    if isinstance(x, float) and x.is_integer():
        return f"{x:.1f}"
    return x


def _json(value):
    return format_html("<pre>{}</pre>", json.dumps(value, indent=2, sort_keys=False))


@admin.register(ModelVersion)
class ModelVersionAdmin(HistoryAdmin):
    form = ModelVersionForm
    list_display = ("version", "status", "is_current", "published_at", "published_by", "created_at")
    list_filter = ("status", "is_current")
    list_select_related = ("published_by",)
    search_fields = ("version", "notes")
    actions = ("copy_as_draft", "publish_draft")
    draft_readonly = ("status", "is_current", "created_at", "profiles_preview")
    published_readonly = (
        "version", "status", "is_current", "published_at", "published_by", "created_at",
        "weights_view", "thresholds_view", "profiles_table", "notes",
    )  # fmt: skip

    def get_readonly_fields(self, request, obj=None):
        if obj is not None and obj.status == VersionStatus.PUBLISHED:
            return self.published_readonly
        return self.draft_readonly

    def get_fields(self, request, obj=None):
        if obj is not None and obj.status == VersionStatus.PUBLISHED:
            return self.published_readonly
        return ("version", "status", "is_current", "weights", "thresholds", "notes",
                "profiles_preview", "created_at")  # fmt: skip

    def has_change_permission(self, request, obj=None):
        if obj is not None and obj.status == VersionStatus.PUBLISHED:
            return False  # immutable: shown read-only
        return super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None):
        if obj is not None and obj.status == VersionStatus.PUBLISHED:
            return False
        return super().has_delete_permission(request, obj)

    def get_actions(self, request):
        actions = super().get_actions(request)
        # Bulk delete would reach published versions; drafts are deleted from their form.
        actions.pop("delete_selected", None)
        return actions

    def save_model(self, request, obj, form, change):
        obj.status = VersionStatus.DRAFT if obj.pk is None else obj.status
        super().save_model(request, obj, form, change)

    @admin.display(description="weights")
    def weights_view(self, obj):
        return _json({k: obj.weights.get(k) for k in FACTORS if k in obj.weights})

    @admin.display(description="thresholds")
    def thresholds_view(self, obj):
        return _json({k: obj.thresholds.get(k) for k in THRESHOLD_KEYS if k in obj.thresholds})

    @admin.display(description="type profiles")
    def profiles_table(self, obj):
        return _profiles_table(obj.profiles)

    @admin.display(description="type profiles")
    def profiles_preview(self, obj):
        current = {
            p.type: {
                "life_years": p.life_years,
                "interval_months": p.interval_months,
                "importance": p.importance,
            }
            for p in TypeProfile.objects.order_by("type")
        }
        return format_html(
            "<p>Captured from the type-profile table when this draft is published; "
            "the table now holds:</p>{}",
            _profiles_table(current),
        )

    @admin.action(description="Copy as new draft")
    def copy_as_draft(self, request, queryset):
        for source in queryset.order_by("created_at", "id"):
            try:
                draft = model_version_copy(source=source, user=request.user)
            except ValidationError as exc:
                self.message_user(request, "; ".join(exc.messages), messages.ERROR)
                continue
            self.message_user(
                request, f"Created draft {draft.version} from {source.version}.", messages.SUCCESS
            )

    @admin.action(description="Publish selected draft")
    def publish_draft(self, request, queryset):
        selected = list(queryset[:2])
        if len(selected) != 1:
            self.message_user(request, "Select exactly one draft to publish.", messages.ERROR)
            return
        draft = selected[0]
        if draft.status != VersionStatus.DRAFT:
            self.message_user(request, f"{draft.version} is already published.", messages.ERROR)
            return
        try:
            published = model_version_publish(draft=draft, user=request.user)
        except ValidationError as exc:
            self.message_user(
                request,
                f"Cannot publish {draft.version}: {'; '.join(exc.messages)}",
                messages.ERROR,
            )
            return
        self.message_user(
            request,
            f"Published {published.version}; a full recompute was queued",
            messages.SUCCESS,
        )


# --- stored figures (read-only) ---------------------------------------------------------------


class AlgorithmVersionFilter(admin.SimpleListFilter):
    """The algorithm versions as choices: the model versions plus the versions of the facility
    assessments (a few hundred rows), not a DISTINCT over every equipment assessment."""

    title = "algorithm version"
    parameter_name = "algorithm_version"

    def lookups(self, request, model_admin):
        versions = set(ModelVersion.objects.values_list("version", flat=True))
        per_facility = FacilityAssessment.objects.order_by().values_list(
            "algorithm_version", flat=True
        )
        versions |= set(per_facility.distinct())
        return [(v, v) for v in sorted(versions) if v]

    def queryset(self, request, queryset):
        if self.value():
            return queryset.filter(algorithm_version=self.value())
        return queryset


@admin.register(EquipmentAssessment)
class EquipmentAssessmentAdmin(ReadOnlyAdmin):
    list_display = (
        "equipment_name", "equipment_external_id", "facility_name", "source", "risk_score",
        "rating", "critical_threat", "served", "primary_risk_factor", "algorithm_version",
        "as_of", "computed_at",
    )  # fmt: skip
    list_select_related = ("equipment", "equipment__facility")
    list_filter = (
        "source",
        "rating",
        "served",
        "critical_threat",
        AlgorithmVersionFilter,
        ("equipment__facility", AutocompleteListFilter),
        ("equipment", AutocompleteListFilter),
    )
    Media = AutocompleteFilterMedia()  # the autocomplete filters' select2
    search_fields = (
        "=equipment__external_id", "equipment__name", "=equipment__facility__external_id",
        "equipment__facility__name",
    )  # fmt: skip
    # Highest score first, ties newest first: the order of the index ``assessment_score_order``
    # (voltmetrics/migrations/0009), so a page reads its rows from the index instead of
    # sorting every assessment joined to its equipment's name.
    ordering = ("-risk_score", "-pk")
    show_full_result_count = False
    exclude = ("factors", "data_gaps", "nfpa_70b", "nfpa_70e")
    readonly_fields = ("factors_view", "data_gaps", "nfpa_70b_view", "nfpa_70e_view")

    @admin.display(description="equipment", ordering="equipment__name")
    def equipment_name(self, obj):
        return obj.equipment.name

    @admin.display(description="Condoit id", ordering="equipment__external_id")
    def equipment_external_id(self, obj):
        return obj.equipment.external_id

    @admin.display(description="facility", ordering="equipment__facility__name")
    def facility_name(self, obj):
        return obj.equipment.facility.name

    @admin.display(description="factors")
    def factors_view(self, obj):
        return format_html(
            "<table><thead><tr><th>Factor</th><th>Score</th><th>Weight</th>"
            "<th>Description</th></tr></thead><tbody>{}</tbody></table>",
            format_html_join(
                "",
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                (
                    (f.get("factor"), f.get("score"), f.get("weight"), f.get("description"))
                    for f in obj.factors or ()
                ),
            ),
        )

    @admin.display(description="NFPA 70B")
    def nfpa_70b_view(self, obj):
        return _json(obj.nfpa_70b)

    @admin.display(description="NFPA 70E")
    def nfpa_70e_view(self, obj):
        return _json(obj.nfpa_70e)


@admin.register(FacilityAssessment)
class FacilityAssessmentAdmin(ReadOnlyAdmin):
    list_display = (
        "facility_name", "facility_external_id", "source", "risk_score", "risk_level",
        "equipment_count", "critical_equipment_count", "high_risk_equipment_count",
        "overall_compliance", "compliance_status", "algorithm_version", "as_of", "computed_at",
    )  # fmt: skip
    list_select_related = ("facility",)
    list_filter = (
        "source",
        "risk_level",
        "compliance_status",
        "algorithm_version",
        ("facility", AutocompleteListFilter),
    )
    Media = AutocompleteFilterMedia()  # the autocomplete filters' select2
    search_fields = ("=facility__external_id", "facility__name")
    ordering = ("facility__name",)
    exclude = ("payload",)
    readonly_fields = ("payload_view",)

    @admin.display(description="facility", ordering="facility__name")
    def facility_name(self, obj):
        return obj.facility.name

    @admin.display(description="Condoit id", ordering="facility__external_id")
    def facility_external_id(self, obj):
        return obj.facility.external_id

    @admin.display(description="payload")
    def payload_view(self, obj):
        return _json(obj.payload)


@admin.register(PortfolioAssessment)
class PortfolioAssessmentAdmin(ReadOnlyAdmin):
    list_display = (
        "source", "average_risk_score", "total_facilities", "total_equipment",
        "algorithm_version", "as_of", "computed_at",
    )  # fmt: skip
    list_filter = ("source",)
    exclude = ("payload",)
    readonly_fields = ("payload_view",)

    @admin.display(description="average risk score")
    def average_risk_score(self, obj):
        return (obj.payload.get("risk_overview") or {}).get("average_risk_score")

    @admin.display(description="facilities")
    def total_facilities(self, obj):
        return obj.payload.get("total_facilities")

    @admin.display(description="equipment")
    def total_equipment(self, obj):
        return obj.payload.get("total_equipment")

    @admin.display(description="payload")
    def payload_view(self, obj):
        return _json(obj.payload)


@admin.register(FacilitySnapshot)
class FacilitySnapshotAdmin(ReadOnlyAdmin):
    list_display = (
        "facility_name", "facility_external_id", "month", "risk_score", "equipment_count",
        "equipment_age", "backfilled", "algorithm_version", "computed_at",
    )  # fmt: skip
    list_select_related = ("facility",)
    list_filter = (
        "backfilled",
        "month",
        "algorithm_version",
        ("facility", AutocompleteListFilter),
    )
    Media = AutocompleteFilterMedia()  # the autocomplete filters' select2
    search_fields = ("=facility__external_id", "facility__name")
    date_hierarchy = "month"
    show_full_result_count = False

    @admin.display(description="facility", ordering="facility__name")
    def facility_name(self, obj):
        return obj.facility.name

    @admin.display(description="Condoit id", ordering="facility__external_id")
    def facility_external_id(self, obj):
        return obj.facility.external_id


@admin.register(PortfolioSnapshot)
class PortfolioSnapshotAdmin(ReadOnlyAdmin):
    list_display = (
        "month", "risk_score", "equipment_count", "equipment_age", "backfilled",
        "algorithm_version", "computed_at",
    )  # fmt: skip
    list_filter = ("backfilled", "algorithm_version")
    date_hierarchy = "month"


from . import admin_runs  # noqa: E402,F401  (recompute runs and their chunks)

try:  # The VoltMetrics integration's admin (jobs, webhook events) once that package exists.
    import voltmetrics.integration.admin  # noqa: F401
except ImportError:  # pragma: no cover - until voltmetrics.integration.admin lands
    pass

from . import admin_risk  # noqa: E402,F401  (risk on the facility and equipment pages and lists)
