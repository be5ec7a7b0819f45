"""Portfolio admin (consumers.md §1): staff pick facilities (an autocomplete inline, usable with
thousands of facilities), save a rule, re-apply rules, and bind API keys and users."""

from __future__ import annotations

from django.contrib import admin, messages
from django.contrib.admin.widgets import AutocompleteSelect
from django.db.models import Count, IntegerField, OuterRef, Q, Subquery
from django.db.models.functions import Coalesce
from django.forms.models import BaseInlineFormSet

from facilities.admin_autocomplete import AutocompleteFilterMedia, AutocompleteListFilter
from masterbus.admin_history import HistoryAdmin

from .models import Portfolio, PortfolioFacility
from .portfolios import membership_changed, portfolio_rules_apply


class KnownFacilitySelect(AutocompleteSelect):
    """The autocomplete widget renders its selected option's label from ``known`` (facilities
    the inline already read with its rows) instead of one query per row; a value it does not
    know (a form sent back with another pick) is read as the stock widget does."""

    known: dict = {}

    def optgroups(self, name, value, attr=None):
        selected = {str(v) for v in value if str(v) not in self.choices.field.empty_values}
        if not selected or not selected <= self.known.keys():
            return super().optgroups(name, value, attr)
        options = []
        if not self.is_required:
            options.append(self.create_option(name, "", "", False, 0))
        label = self.choices.field.label_from_instance
        for key in sorted(selected):
            obj = self.known[key]
            options.append(self.create_option(name, obj.pk, label(obj), selected, len(options)))
        return [(None, options, 0)]


class PickedFacilityFormSet(BaseInlineFormSet):
    """Hands each row's facility (read with the rows, ``select_related``) to its widget."""

    def _construct_form(self, i, **kwargs):
        form = super()._construct_form(i, **kwargs)
        instance = form.instance
        if instance.pk is not None and instance.facility_id is not None:
            widget = form.fields["facility"].widget
            widget = getattr(widget, "widget", widget)  # inside the related-field wrapper
            if isinstance(widget, KnownFacilitySelect):
                widget.known = {str(instance.facility_id): instance.facility}
        return form


class PortfolioFacilityInline(admin.TabularInline):
    """The staff-picked facilities, chosen by autocomplete (search by name, id, city, street,
    contractor). The rule's members are not listed one by one (there may be thousands): the
    rule keeps them, and the portfolio shows how many there are."""

    model = PortfolioFacility
    formset = PickedFacilityFormSet
    extra = 1
    autocomplete_fields = ["facility"]
    fields = ["facility"]
    verbose_name = "facility picked by staff"
    verbose_name_plural = "facilities picked by staff"

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name == "facility":
            kwargs["widget"] = KnownFacilitySelect(
                db_field, self.admin_site, using=kwargs.get("using")
            )
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def get_queryset(self, request):
        return (
            super()
            .get_queryset(request)
            .filter(by_rule=False)
            .select_related("facility")
            .order_by("facility__name", "facility_id")
        )


def _count(rows):
    """Rows of ``rows`` (with a ``portfolio`` column) per portfolio, as a subquery."""
    counted = (
        rows.filter(portfolio=OuterRef("pk"))
        .order_by()
        .values("portfolio")
        .annotate(n=Count("*"))
        .values("n")
    )
    return Coalesce(Subquery(counted, output_field=IntegerField()), 0)


@admin.register(Portfolio)
class PortfolioAdmin(HistoryAdmin):
    list_display = ["name", "slug", "facility_count", "rule", "key_count", "user_count"]
    readonly_fields = ["membership"]
    search_fields = ["name", "slug", "description"]
    list_filter = [("facilities", AutocompleteListFilter)]  # portfolios holding a facility
    Media = AutocompleteFilterMedia()  # the facility filter's select2
    prepopulated_fields = {"slug": ["name"]}
    autocomplete_fields = ["api_keys"]
    filter_horizontal = ["users"]
    inlines = [PortfolioFacilityInline]
    actions = ["reapply_rules"]
    fieldsets = [
        (None, {"fields": ["slug", "name", "description", "membership"]}),
        (
            "Rule",
            {
                "fields": ["rule_contractor", "rule_city", "rule_state"],
                "description": "Every active facility matching all the filled-in fields "
                "(case-insensitive) belongs to the portfolio; re-applied when saved and when "
                "facilities arrive or change. Staff-picked facilities stay.",
            },
        ),
        (
            "Who sees it",
            {
                "fields": ["api_keys", "users"],
                "description": "Keys and users bound to portfolios see only their facilities; "
                "unbound ones see every facility. Staff users are never limited.",
            },
        ),
    ]

    def get_queryset(self, request):
        # One query for the list page whatever its size: the counts are subqueries.
        return (
            super()
            .get_queryset(request)
            .annotate(
                n_facilities=_count(
                    PortfolioFacility.objects.filter(facility__deleted_at__isnull=True)
                ),
                n_keys=_count(Portfolio.api_keys.through.objects.all()),
                n_users=_count(Portfolio.users.through.objects.all()),
            )
        )

    @admin.display(description="members")
    def membership(self, obj):
        if obj.pk is None:
            return "—"
        rows = PortfolioFacility.objects.filter(
            portfolio=obj, facility__deleted_at__isnull=True
        ).aggregate(
            picked=Count("id", filter=Q(by_rule=False)), ruled=Count("id", filter=Q(by_rule=True))
        )
        return f"{rows['picked']} picked by staff, {rows['ruled']} by the rule (active facilities)"

    @admin.display(description="facilities", ordering="n_facilities")
    def facility_count(self, obj):
        return obj.n_facilities

    @admin.display(description="API keys", ordering="n_keys")
    def key_count(self, obj):
        return obj.n_keys

    @admin.display(description="users", ordering="n_users")
    def user_count(self, obj):
        return obj.n_users

    @admin.display(description="rule")
    def rule(self, obj):
        parts = [
            f"{label} = {value}"
            for label, value in (
                ("contractor", obj.rule_contractor),
                ("city", obj.rule_city),
                ("state", obj.rule_state),
            )
            if value
        ]
        return "; ".join(parts) or "—"

    def save_related(self, request, form, formsets, change):
        super().save_related(request, form, formsets, change)
        portfolio = form.instance
        stats = portfolio_rules_apply([portfolio])
        membership_changed()
        if stats.added or stats.removed:
            self.message_user(
                request,
                f"Rule applied: {stats.added} facilities added, {stats.removed} removed.",
                messages.INFO,
            )

    @admin.action(description="Re-apply the rules of the selected portfolios")
    def reapply_rules(self, request, queryset):
        stats = portfolio_rules_apply(list(queryset.order_by("pk")))
        self.message_user(request, f"Rules re-applied: {stats}.", messages.SUCCESS)
