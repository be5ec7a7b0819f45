"""masterbus.bulk: the set-based writes every door and the recompute use (COPY on PostgreSQL,
bulk_create elsewhere) store exactly the values given, defaults and JSON included."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from django.db import connection

from facilities.models import Facility, RecordChange
from masterbus.bulk import allocate_pks, bulk_insert, bulk_upsert

pytestmark = pytest.mark.django_db
T = datetime(2025, 1, 1, tzinfo=UTC)


def _facility(ext: str, **over) -> dict:
    return {
        "external_id": ext, "name": ext.upper(), "condoit_created_at": T,
        "condoit_updated_at": T, **over,
    }  # fmt: skip


def test_insert_fills_defaults_and_stores_json_and_text_as_given():
    bulk_insert(
        Facility,
        [
            _facility("fac_a", extra={"note": 'tab\there, "quoted", back\\slash', "n": [1, 2.5]}),
            _facility("fac_b", city="Zürich\nline two"),
        ],
    )
    a, b = Facility.objects.order_by("external_id")
    assert a.extra == {"note": 'tab\there, "quoted", back\\slash', "n": [1, 2.5]}
    assert (a.city, a.deleted_at, a.content_hash) == ("", None, "")  # defaults
    assert b.city == "Zürich\nline two" and b.extra == {}


def test_rows_shaped_differently_from_the_first_are_still_stored_whole():
    now = T
    bulk_insert(
        RecordChange,
        [
            {"kind": "facility", "external_id": "fac_a", "source": "file", "created_at": now},
            {"kind": "facility", "external_id": "fac_b", "source": "file", "created_at": now,
             "facility_external_id": "fac_b", "pushed_at": now},
        ],
    )  # fmt: skip
    rows = dict(RecordChange.objects.values_list("external_id", "facility_external_id"))
    assert rows == {"fac_a": "", "fac_b": "fac_b"}
    assert RecordChange.objects.get(external_id="fac_b").pushed_at == now


def test_upsert_updates_only_the_named_fields_and_returns_the_pks():
    first = bulk_upsert(
        Facility, [_facility("fac_a", city="Old")], conflict=["external_id"],
        update=["city"], key="external_id",
    )  # fmt: skip
    again = bulk_upsert(
        Facility, [_facility("fac_a", city="New", name="Ignored")], conflict=["external_id"],
        update=["city"], key="external_id",
    )  # fmt: skip
    assert first == again == {"fac_a": Facility.objects.get().pk}
    assert Facility.objects.values_list("city", "name").get() == ("New", "FAC_A")


def test_allocated_pks_are_the_ids_the_rows_get():
    ids = allocate_pks(Facility, 3)
    if connection.vendor != "postgresql":
        assert ids is None
        return
    assert len(set(ids)) == 3
    bulk_insert(
        Facility,
        [{"id": pk, **_facility(f"fac_{pk}")} for pk in ids],
        with_pk=True,
    )
    assert sorted(Facility.objects.values_list("pk", flat=True)) == sorted(ids)
    # The sequence moved past them: a row inserted the ordinary way does not collide.
    bulk_insert(Facility, [_facility("fac_next")])
    assert Facility.objects.get(external_id="fac_next").pk > max(ids)


def test_where_in_filters_by_the_given_ids_without_default_ordering():
    from masterbus.bulk import where_in

    bulk_insert(Facility, [_facility(f"fac_{i}", name=f"N{9 - i}") for i in range(6)])
    pks = sorted(Facility.objects.values_list("pk", flat=True))
    wanted = [pks[4], pks[1], pks[3]]
    qs = where_in(Facility.objects, "id", wanted)
    assert sorted(qs.values_list("pk", flat=True)) == sorted(wanted)
    assert not qs.query.order_by and qs.query.default_ordering is False
    assert list(where_in(Facility.objects, "id", [])) == []
    # Works on a queryset too, combined with other filters.
    named = where_in(Facility.objects.filter(name="N5"), "id", wanted)
    assert list(named.values_list("external_id", flat=True)) == ["fac_4"]
