"""Autocomplete list filters: pick a facility (or any related record) in a changelist's
sidebar by typing, never from a list of every record.

The filter renders the admin's own autocomplete widget (its bundled select2, fed by the
admin's autocomplete view and the related model admin's ``search_fields``): the page holds
the selected record alone, so its size and its query count do not depend on how many
records there are. A change of the selection reloads the list with the filter's query
parameter set (or removed when cleared) by a small static script; an "All" link clears it
without JavaScript.

- :class:`AutocompleteListFilter` — a related-field filter: ``list_filter = [("facility",
  AutocompleteListFilter)]``, or a path (``"equipment__facility"``).
- :class:`AutocompleteFilter` — a simple filter whose rows are chosen by code: set
  ``parameter_name``, return the foreign key whose target is searched from
  ``autocomplete_field()``, and write ``queryset_for(queryset, value)``.
- :class:`AutocompleteFilterMedia` — ``Media = AutocompleteFilterMedia()`` in a ModelAdmin's
  body loads the widget's script and styles on its pages.

Both filters validate the value: a value that is not an id of the related model is the
admin's usual "invalid lookup" (IncorrectLookupParameters), never a server error.
"""

from __future__ import annotations

import json

from django import forms
from django.contrib import admin
from django.contrib.admin.options import IncorrectLookupParameters
from django.contrib.admin.widgets import AutocompleteSelect
from django.core.exceptions import ValidationError
from django.db import models
from django.utils.functional import cached_property

FILTER_TEMPLATE = "admin/facilities/autocomplete_filter.html"
SCRIPT = "facilities/admin/autocomplete_filter.js"
STYLES = "facilities/admin/autocomplete_filter.css"


def _target_of(field: models.Field) -> tuple[type[models.Model], models.Field]:
    """The related model of a foreign key (or many-to-many) and the field its values name."""
    remote = field.remote_field
    model = remote.model
    to_field = getattr(remote, "field_name", None) or model._meta.pk.name
    return model, model._meta.get_field(to_field)


def clean_related_value(field: models.Field, value) -> object:
    """``value`` (a query-string string) as a value of ``field``'s target, or
    IncorrectLookupParameters when it cannot be one."""
    _, target = _target_of(field)
    try:
        cleaned = target.to_python(value)
        if isinstance(cleaned, int) and not -(2**63) <= cleaned < 2**63:
            raise ValidationError("out of range")
    except (ValidationError, ValueError, TypeError) as exc:
        raise IncorrectLookupParameters(exc) from exc
    return cleaned


class _AutocompleteWidget:
    """What both filters share: the rendered widget and its selected record."""

    template = FILTER_TEMPLATE
    widget_css_class = "autocomplete-list-filter"

    def autocomplete_field(self) -> models.Field:
        raise NotImplementedError

    def selected_value(self) -> str | None:
        raise NotImplementedError

    def widget_parameters(self) -> list[str]:
        """Query parameters a new selection replaces (all of the filter's own)."""
        return list(self.expected_parameters())

    @cached_property
    def widget_html(self) -> str:
        field = self.autocomplete_field()
        model, _ = _target_of(field)
        value = self.selected_value()
        if value is not None:
            try:
                value = clean_related_value(field, value)
            except IncorrectLookupParameters:
                value = None  # the list itself reports the bad value
        widget = AutocompleteSelect(field, self.model_admin.admin_site)
        choice = forms.ModelChoiceField(
            queryset=model._default_manager.all(), widget=widget, required=False
        )
        return choice.widget.render(
            name=self.parameter,
            value=value,
            attrs={
                "id": f"autocomplete-filter-{self.parameter}",
                "class": self.widget_css_class,
                "aria-label": f"Search {self.title}",
                "data-filter-parameters": json.dumps(self.widget_parameters()),
            },
        )


class AutocompleteListFilter(_AutocompleteWidget, admin.RelatedFieldListFilter):
    """A related-field list filter chosen by autocomplete.

    The query parameter is the related filter's (``facility__id__exact``); ``facility__exact``
    (what links into a list usually carry) is taken too and shows as the selection.
    """

    def __init__(self, field, request, params, model, model_admin, field_path):
        self.model_admin = model_admin
        self.lookup_kwarg_alias = f"{field_path}__exact"
        super().__init__(field, request, params, model, model_admin, field_path)
        for name in (self.lookup_kwarg, self.lookup_kwarg_alias):
            for raw in self.used_parameters.get(name) or ():
                clean_related_value(field, raw)
        self.parameter = self.lookup_kwarg

    def expected_parameters(self):
        params = super().expected_parameters()
        if self.lookup_kwarg_alias != self.lookup_kwarg:
            params.append(self.lookup_kwarg_alias)
        return params

    def field_choices(self, field, request, model_admin):
        return []  # never every record: the widget asks the autocomplete view

    def has_output(self):
        return True

    def autocomplete_field(self):
        return self.field

    def selected_value(self):
        for name in (self.lookup_kwarg, self.lookup_kwarg_alias):
            values = self.used_parameters.get(name)
            if values:
                return str(values[-1] if isinstance(values, list) else values)
        return None

    def choices(self, changelist):
        selected = self.selected_value()
        yield {
            "selected": selected is None and not self.lookup_val_isnull,
            "query_string": changelist.get_query_string(remove=self.expected_parameters()),
            "display": "All",
        }
        if self.include_empty_choice:
            yield {
                "selected": bool(self.lookup_val_isnull),
                "query_string": changelist.get_query_string(
                    {self.lookup_kwarg_isnull: "True"},
                    [self.lookup_kwarg, self.lookup_kwarg_alias],
                ),
                "display": self.empty_value_display,
            }


class AutocompleteFilter(_AutocompleteWidget, admin.SimpleListFilter):
    """A simple list filter chosen by autocomplete, for rows reached by code rather than by
    one foreign key (e.g. the staff overrides of a facility's records).

    Subclasses set ``title`` and ``parameter_name``, return from ``autocomplete_field()`` the
    foreign key whose target model is searched (e.g. ``Equipment._meta.get_field("facility")``
    to pick a facility), and implement ``queryset_for(queryset, value)`` (``value`` already
    converted to the target's type).
    """

    def __init__(self, request, params, model, model_admin):
        self.model_admin = model_admin
        super().__init__(request, params, model, model_admin)
        self.parameter = self.parameter_name
        if self.value() is not None:
            self.cleaned = clean_related_value(self.autocomplete_field(), self.value())

    def lookups(self, request, model_admin):
        return ()

    def has_output(self):
        return True

    def selected_value(self):
        return self.value()

    def queryset(self, request, queryset):
        if self.value() is None:
            return queryset
        return self.queryset_for(queryset, self.cleaned)

    def queryset_for(self, queryset, value):
        raise NotImplementedError

    def choices(self, changelist):
        yield {
            "selected": self.value() is None,
            "query_string": changelist.get_query_string(remove=[self.parameter_name]),
            "display": "All",
        }


def autocomplete_filter_media() -> forms.Media:
    """The admin's select2 and autocomplete script (in the language and minification of the
    admin's own autocomplete widget), then the filter's own script and styles."""
    # Any foreign key will do: the media does not depend on the field.
    from .models import RejectedRecord

    media = AutocompleteSelect(RejectedRecord._meta.get_field("sync_run"), admin.site).media
    # One list each, so the filter's script and styles come after the widget's own.
    css = media._css
    return forms.Media(
        js=[*media._js, SCRIPT],
        css={**css, "screen": [*css.get("screen", ()), STYLES]},
    )


class AutocompleteFilterMedia:
    """A ModelAdmin's media definition for autocomplete filters: ``Media =
    AutocompleteFilterMedia()`` in the class body (Django adds it to the admin's own media, and
    a subclass's ``class Media`` extends it). Read when the page is built, so the select2
    language follows the request's."""

    extend = True

    @property
    def js(self):
        return autocomplete_filter_media()._js

    @property
    def css(self):
        return autocomplete_filter_media()._css
