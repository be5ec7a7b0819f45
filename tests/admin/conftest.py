import datetime

import pytest
from django import forms

from facilities.choices import RecordKind
from facilities.models import ProcessedEvent, RecordChange, SyncCursor
from facilities.services import override_set

from . import factories as f


@pytest.fixture
def world(admin_user):
    """One of everything the admin shows, as the ingestion would leave it."""
    fac = f.facility(name="Riverside Plant", city="Peoria", contractor="Volt Bros")
    eq = f.equipment(
        fac, name="Main Switchboard", equipment_class="Switchboard", type="switchboard"
    )
    f.conductor(eq)
    f.photo(eq, caption="front")
    mr = f.maintenance(eq)
    run = f.sync_run()
    rej = f.rejection(run)
    ov = override_set(
        kind=RecordKind.EQUIPMENT,
        external_id=eq.external_id,
        field="manufacturer",
        value="Eaton",
        condoit_value="Square D",
        user=admin_user,
    )
    change = RecordChange.objects.create(
        kind=RecordKind.EQUIPMENT,
        external_id=eq.external_id,
        facility_external_id=fac.external_id,
        source="file",
    )
    event = ProcessedEvent.objects.create(
        event_id="evt_1", event_type="equipment.updated", outcome="applied"
    )
    cursor = SyncCursor.objects.create(
        resource="equipment", high_water_mark=datetime.datetime(2025, 1, 1, tzinfo=datetime.UTC)
    )
    return {
        "facility": fac,
        "equipment": eq,
        "maintenance": mr,
        "run": run,
        "rejection": rej,
        "override": ov,
        "change": change,
        "event": event,
        "cursor": cursor,
    }


def _widget(field):
    widget = field.widget
    while hasattr(widget, "widget"):  # RelatedFieldWidgetWrapper and friends
        widget = widget.widget
    return widget


def form_post_data(response) -> dict:
    """The POST body the change form in ``response`` would submit unchanged."""
    data = {"_save": "Save"}
    forms_ = [response.context["adminform"].form]
    for inline in response.context["inline_admin_formsets"]:
        formset = inline.formset
        management = formset.management_form
        for name in management.fields:
            data[management.add_prefix(name)] = management[name].value()
        forms_ += list(formset.forms)
    for form in forms_:
        for name, field in form.fields.items():
            key = form.add_prefix(name)
            value = form[name].value()  # already prepared for the widget
            if field.show_hidden_initial:  # e.g. JSON fields with a callable default
                data[form.add_initial_prefix(name)] = value
            widget = _widget(field)
            if isinstance(widget, forms.MultiWidget):
                for i, part in enumerate(widget.decompress(value)):
                    data[f"{key}_{i}"] = "" if part is None else str(part)
            elif isinstance(field, forms.BooleanField):
                if value:
                    data[key] = "on"
            elif value is None:
                data[key] = ""
            else:
                data[key] = value
    return data
