"""Audit history outside the admin (masterbus/audit.py): management commands record their
reason (and the user of ``--by``); every write that bypasses ``save()`` (``update()``,
``bulk_update()``, deletes, many-to-many and membership rows) is recorded by the code that
makes it; Condoit's value beside an override is recorded only when it changes; secrets never."""

import io

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import timezone

from consumers.models import Portfolio, Subscription
from consumers.portfolios import (
    api_key_bind,
    portfolio_facilities_add,
    portfolio_facilities_set,
    portfolio_rules_apply,
    portfolio_save,
)
from consumers.webhooks.engine import _failed, _Run, deliver_one
from consumers.webhooks.services import (
    subscription_create,
    subscription_pause,
    subscription_resume,
    subscription_rotate_secret,
    subscription_set_active,
)
from consumers.webhooks.transport import Answer
from equipment.models import TypeProfile
from equipment.services import overrides_remove
from facilities.choices import RecordKind
from facilities.models import FieldOverride
from facilities.services import override_set
from masterbus import audit
from masterbus.models import ApiKey, key_digest
from masterbus.services import api_key_create, api_key_revoke
from tests import factories as rf
from tests.admin import factories as af
from voltmetrics.models import ModelVersion
from voltmetrics.versions import model_version_copy, model_version_publish

pytestmark = pytest.mark.django_db

OS_REASON = audit.command_reason


def rows(obj):
    return list(type(obj).history.filter(id=obj.pk).order_by("history_date", "history_id"))


def stored_values(model) -> list[str]:
    return [str(v) for row in model.history.values() for v in row.values()]


@pytest.fixture
def staff(db):
    return get_user_model().objects.create_user("carol", is_staff=True)


# --- management commands ------------------------------------------------------------------------


def test_create_api_key_records_its_reason_and_never_the_key():
    out = io.StringIO()
    call_command("create_api_key", "--name", "insurer", "--scope", "threatmap:read", stdout=out,
                 stderr=io.StringIO())  # fmt: skip
    raw = out.getvalue().strip()
    key = ApiKey.objects.get()
    (row,) = rows(key)
    assert row.history_type == "+" and row.history_user is None
    assert row.history_change_reason == OS_REASON("create_api_key")
    assert row.history_change_reason.startswith("manage.py create_api_key (by OS user ")
    assert not any(raw in v or key_digest(raw) in v for v in stored_values(ApiKey))


def test_create_api_key_by_a_user_records_them_as_creator_and_author(staff):
    call_command("create_api_key", "--name", "insurer", "--scope", "threatmap:read", "--by",
                 "carol", stdout=io.StringIO(), stderr=io.StringIO())  # fmt: skip
    key = ApiKey.objects.get()
    assert key.created_by == staff
    (row,) = rows(key)
    assert (row.history_user, row.history_username) == (staff, "carol")


@pytest.mark.parametrize("by", ["nobody", "gone"])
def test_an_unknown_or_deactivated_by_user_creates_nothing(by):
    get_user_model().objects.create_user("gone", is_active=False)
    with pytest.raises(CommandError, match=f"--by '{by}'.*nothing done"):
        call_command("create_api_key", "--name", "x", "--scope", "threatmap:read", "--by", by,
                     stdout=io.StringIO(), stderr=io.StringIO())  # fmt: skip
    assert not ApiKey.objects.exists() and not ApiKey.history.exists()


def test_create_portfolio_records_one_row_per_run_with_the_facilities_picked(staff):
    af.facility(external_id="fac_a"), af.facility(external_id="fac_b")
    call_command("create_portfolio", "north", "--name", "North", "--facility", "fac_a", "--by",
                 "carol", stdout=io.StringIO(), stderr=io.StringIO())  # fmt: skip
    portfolio = Portfolio.objects.get()
    (created,) = rows(portfolio)
    assert created.history_type == "+" and created.history_user == staff
    assert created.history_change_reason == OS_REASON("create_portfolio")
    assert created.picked_facilities == ["fac_a"]
    call_command("create_portfolio", "north", "--facility", "fac_a", "--facility", "fac_b",
                 stdout=io.StringIO(), stderr=io.StringIO())  # fmt: skip
    history = rows(portfolio)
    assert len(history) == 2
    assert history[1].picked_facilities == ["fac_a", "fac_b"] and history[1].history_user is None


def test_create_subscription_records_its_reason_and_never_the_secret(staff, settings):
    Portfolio.objects.create(slug="acme", name="Acme")
    out = io.StringIO()
    call_command("create_subscription", "--url", "https://hooks.example.com/in", "--portfolio",
                 "acme", "--by", "carol", stdout=out)  # fmt: skip
    secret = out.getvalue().splitlines()[-1]
    sub = Subscription.objects.get()
    assert sub.created_by == staff
    (row,) = rows(sub)
    assert (row.history_type, row.history_user) == ("+", staff)
    assert row.history_change_reason == OS_REASON("create_subscription")
    assert row.bound_portfolios == ["acme"]
    assert not any(
        secret in v or sub.secret_encrypted in v for v in stored_values(Subscription)
    )


def test_a_condoit_import_records_condoits_new_value_beside_an_override(import_export):
    fac = rf.facility()
    eq = rf.equipment(fac["id"], manufacturer="Square D")
    import_export(facilities=[fac], equipment=[eq])
    ov = override_set(kind=RecordKind.EQUIPMENT, external_id=eq["id"], field="manufacturer",
                      value="Eaton", condoit_value="Square D")  # fmt: skip
    import_export(facilities=[fac], equipment=[eq])  # unchanged: nothing written
    assert len(rows(ov)) == 1
    changed = {**eq, "manufacturer": "Siemens", "updatedAt": "2025-02-01T00:00:00Z"}
    import_export(facilities=[fac], equipment=[changed])
    ov.refresh_from_db()
    assert (ov.value, ov.condoit_value) == ("Eaton", "Siemens")
    last = rows(ov)[-1]
    assert (last.history_type, last.condoit_value, last.value) == ("~", "Siemens", "Eaton")
    assert last.history_change_reason == OS_REASON("import_condoit")
    # A record rewritten for another field leaves the override's row alone.
    other = {**changed, "model": "NF", "updatedAt": "2025-03-01T00:00:00Z"}
    import_export(facilities=[fac], equipment=[other])
    assert len(rows(ov)) == 2


def test_a_pull_records_condoits_new_value_with_its_door():
    from condoit.ingest import ingest_records
    from facilities.choices import SyncSource

    fac = rf.facility()
    eq = rf.equipment(fac["id"], manufacturer="Square D")
    ingest_records([("facility", fac), ("equipment", eq)], source=SyncSource.PULL)
    ov = override_set(kind=RecordKind.EQUIPMENT, external_id=eq["id"], field="manufacturer",
                      value="Eaton", condoit_value="Square D")  # fmt: skip
    changed = {**eq, "manufacturer": "ABB", "updatedAt": "2025-02-01T00:00:00Z"}
    ingest_records([("equipment", changed)], source=SyncSource.PULL)
    last = rows(ov)[-1]
    assert last.condoit_value == "ABB"
    assert last.history_change_reason == "Condoit's value changed (pull)"


# --- writes that bypass save() ---------------------------------------------------------------


def test_api_key_revoke_records_each_key_revoked(staff):
    keys = [api_key_create(name=f"k{i}", scopes=["threatmap:read"])[0] for i in range(3)]
    api_key_revoke(keys=keys[:1])
    with audit.audited("rotation drill", user=staff):
        assert api_key_revoke(keys=keys) == 2  # the first keeps its date and records nothing
    revoked = [[r.revoked_at is not None for r in rows(k)] for k in keys]
    assert revoked == [[False, True], [False, True], [False, True]]
    last = rows(keys[2])[-1]
    assert (last.history_user, last.history_change_reason) == (staff, "rotation drill")
    assert rows(keys[0])[-1].history_change_reason == "key revoked"


def test_override_removal_records_the_deletion():
    eq = af.equipment(af.facility(), manufacturer="Square D")
    ov = override_set(kind=RecordKind.EQUIPMENT, external_id=eq.external_id,
                      field="manufacturer", value="Eaton", condoit_value="Square D")  # fmt: skip
    with audit.audited("cleanup"):
        assert overrides_remove(ids=[ov.pk]) == 1
    history = list(FieldOverride.history.filter(id=ov.pk).order_by("history_date"))
    assert [(r.history_type, r.history_change_reason) for r in history][-1] == ("-", "cleanup")


def test_subscription_state_changes_are_recorded(staff, settings):
    sub, secret = subscription_create(url="https://hooks.example.com/in")
    with audit.audited("drill", user=staff):
        new_secret = subscription_rotate_secret(sub)
        assert subscription_pause(sub, "maintenance window")
        assert subscription_resume(sub)
        subscription_set_active(sub, False)
    assert subscription_pause(sub, "paused by the planner") is True
    history = rows(sub)
    assert [r.history_type for r in history] == ["+", "~", "~", "~", "~", "~"]
    assert [r.history_user for r in history[1:5]] == [staff] * 4
    assert (history[2].paused_reason, history[3].paused_at) == ("maintenance window", None)
    assert history[1].previous_secret_until is not None
    assert history[4].active is False
    assert history[5].history_change_reason == "paused by the planner"
    assert history[5].history_user is None
    sub.refresh_from_db()
    for token in (secret, new_secret, sub.secret_encrypted, sub.previous_secret_encrypted):
        assert not any(token in v for v in stored_values(Subscription))


@pytest.mark.parametrize("status", [410, 500])
def test_the_deliveries_record_a_pause_or_a_switch_off(settings, status):
    from consumers.models import Delivery

    settings.WEBHOOK_RETRY_SCHEDULE = []  # the first failure is the last
    sub, _ = subscription_create(url="https://hooks.example.com/in")
    delivery = Delivery.objects.create(subscription=sub, event_type="test",
                                       event_public_id="evt_x", body=b"{}")  # fmt: skip
    _failed(_Run(sub), delivery, timezone.now(), Answer(status=status, duration_ms=3))
    last = rows(sub)[-1]
    if status == 410:
        assert last.active is False
        assert last.history_change_reason == (
            "switched off by the deliveries: 410 Gone to evt_x"
        )
    else:
        assert last.paused_at is not None and "evt_x failed 1 attempts" in last.paused_reason
        assert last.history_change_reason.startswith("paused by the deliveries: evt_x failed")
    assert last.history_user is None


def test_a_retry_records_nothing(settings):
    from consumers.models import Delivery

    settings.WEBHOOK_RETRY_SCHEDULE = [60]
    sub, _ = subscription_create(url="https://hooks.example.com/in")
    delivery = Delivery.objects.create(subscription=sub, event_type="test",
                                       event_public_id="evt_x", body=b"{}")  # fmt: skip
    _failed(_Run(sub), delivery, timezone.now(), Answer(status=503, duration_ms=3))
    assert len(rows(sub)) == 1  # failures in a row are not recorded


def test_a_replay_answered_410_records_the_switch_off(settings, httpserver):
    from consumers.models import Delivery

    settings.WEBHOOK_ALLOW_HTTP = settings.WEBHOOK_ALLOW_PRIVATE = True
    httpserver.expect_request("/hook").respond_with_data("", status=410)
    sub, _ = subscription_create(url=httpserver.url_for("/hook"))
    replay = Delivery.objects.create(subscription=sub, event_type="test", replay=True,
                                     event_public_id="evt_r", body=b"{}")  # fmt: skip
    assert deliver_one(replay.pk).status == 410
    last = rows(sub)[-1]
    assert last.active is False and "410 Gone to evt_r" in last.history_change_reason


def test_model_version_publish_records_one_row_each():
    current = ModelVersion.objects.get(is_current=True)
    before = len(rows(current))
    draft = model_version_copy(source=current, version="1.9")
    model_version_publish(draft=draft)
    assert [(r.history_type, r.status, r.is_current) for r in rows(draft)] == [
        ("+", "draft", False),
        ("~", "published", True),
    ]
    assert rows(draft)[-1].history_change_reason == "published"
    superseded = rows(current)[before:]
    assert [(r.is_current, r.history_change_reason) for r in superseded] == [
        (False, "superseded by 1.9")
    ]


def test_portfolio_membership_and_bindings_are_recorded():
    _, b, c = (af.facility(external_id=f"fac_{x}", city="Peoria") for x in "abc")
    portfolio, _ = portfolio_save(slug="north", name="North", facility_ids=["fac_a"])
    assert [r.picked_facilities for r in rows(portfolio)] == [["fac_a"]]
    portfolio_facilities_add(portfolio, [b.pk])
    portfolio_facilities_set(portfolio, [b.pk, c.pk])
    portfolio_facilities_set(portfolio, [b.pk, c.pk])  # no change: no row
    key, _ = api_key_create(name="reader", scopes=["threatmap:read"])
    api_key_bind(key, [portfolio])
    history = rows(portfolio)
    assert [r.picked_facilities for r in history] == [
        ["fac_a"], ["fac_a", "fac_b"], ["fac_b", "fac_c"], ["fac_b", "fac_c"],
    ]  # fmt: skip
    assert [r.history_change_reason for r in history[1:]] == [
        "staff-picked facilities added",
        "staff-picked facilities set",
        f"API key {key} bound",
    ]
    assert history[-1].bound_api_keys == [str(key)]
    # The rule's members follow the rule, which is recorded: applying it writes no row.
    portfolio.rule_city = "Peoria"
    portfolio.save()
    count = len(rows(portfolio))
    assert portfolio_rules_apply([portfolio]).added == 1
    assert len(rows(portfolio)) == count


# --- the context --------------------------------------------------------------------------------


def test_the_innermost_context_wins_and_a_save_outside_gets_none(staff):
    profile = TypeProfile.objects.get(type="panel")
    with audit.audited("outer"):
        with audit.audited("inner", user=staff):
            profile.importance = 2
            profile.save()
        profile.importance = 3
        profile.save()
    profile.importance = 4
    profile.save()
    history = rows(profile)[-3:]
    assert [(r.history_change_reason, r.history_user) for r in history] == [
        ("inner", staff),
        ("outer", None),
        (None, None),
    ]


def test_a_block_that_fails_records_nothing():
    profile = TypeProfile.objects.get(type="panel")
    before = len(rows(profile))
    with pytest.raises(RuntimeError), audit.merged(TypeProfile):
        profile.importance = 2
        profile.save()
        raise RuntimeError("boom")
    assert len(rows(profile)) == before


def test_the_history_starts_with_the_values_then():
    """The migration gave every object already there a first row."""
    for profile in TypeProfile.objects.all():
        first = rows(profile)[0]
        assert first.history_change_reason == audit.BASELINE_REASON
        assert (first.life_years, first.interval_months) == (
            profile.life_years,
            profile.interval_months,
        )
