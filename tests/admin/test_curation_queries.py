"""The query counts of the curation pages, pinned: the same with 3 rows as with 30, and
equal to the number below (a change that adds a query per page shows here first)."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from consumers.models import Portfolio, PortfolioFacility
from facilities.choices import RecordKind
from facilities.models import Facility, RejectedRecord, SyncRun
from facilities.services import override_set

from . import factories as f

pytestmark = pytest.mark.django_db


def build(n: int):
    for _ in range(n):
        fac = f.facility()
        eq = f.equipment(fac)
        f.maintenance(eq)
        override_set(
            kind=RecordKind.EQUIPMENT, external_id=eq.external_id, field="name", value="x",
            condoit_value="y",
        )  # fmt: skip
        f.rejection(f.sync_run())
        PortfolioFacility.objects.create(
            portfolio=Portfolio.objects.get_or_create(slug="all", name="All")[0], facility=fac
        )


def first(model):
    return model.objects.order_by("pk").first().pk


# (url name, query built from the first facility/equipment/run, queries). The session and
# the user are two of them.
# The facility and equipment lists also read their rows' served risk in one query (the risk
# columns of voltmetrics/admin_risk.py).
PAGES = [
    ("equipment_equipment_changelist", "", 5),
    ("equipment_equipment_changelist", "?facility__id__exact={facility}", 6),
    ("equipment_maintenancerecord_changelist", "?equipment__facility__id__exact={facility}", 5),
    ("facilities_fieldoverride_changelist", "?facility={facility}", 7),
    ("consumers_portfolio_changelist", "?facilities__id__exact={facility}", 6),
    ("facilities_facility_changelist", "", 7),
    ("facilities_syncrun_changelist", "", 7),
    ("facilities_rejectedrecord_changelist", "", 6),
    ("facilities_rejectedrecord_change", "{rejection}", 4),
    ("facilities_facility_export_csv", "", 4),
    ("equipment_equipment_export_csv", "?facility__id__exact={facility}&q=panel", 4),
    ("facilities_rejectedrecord_export_csv", "?sync_run__exact={run}", 4),
]


def url_of(name, query):
    ids = {
        "facility": first(Facility),
        "run": first(SyncRun),
        "rejection": first(RejectedRecord),
    }
    if name.endswith("_change"):
        return reverse(f"admin:{name}", args=[query.format(**ids)])
    return reverse(f"admin:{name}") + query.format(**ids)


def count(client, url) -> int:
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(url)
        assert response.status_code == 200
        if response.streaming:
            b"".join(response.streaming_content)
    return len(ctx.captured_queries)


@pytest.mark.parametrize("name, query, expected", PAGES)
def test_query_counts_are_pinned(admin_client, name, query, expected):
    build(3)
    url = url_of(name, query)
    admin_client.get(url)  # warm the session and the content types
    few = count(admin_client, url)
    build(27)
    assert count(admin_client, url) == few == expected
