"""The event feed (consumers.md §3): GET /events with scope events:read."""

import pytest
from django.db import transaction

from consumers.events import events_write
from consumers.feed import event_feed
from consumers.models import Event, Portfolio, PortfolioFacility, event_public_id
from facilities.models import Facility
from masterbus.access import FacilityScope
from masterbus.services import api_key_create
from tests.admin.factories import facility as mirror_facility
from tests.api.conftest import assert_envelope

pytestmark = pytest.mark.django_db

URL = "/api/v1/events"


@pytest.fixture
def feed_key():
    return api_key_create(name="feed", scopes=["events:read"])[1]


@pytest.fixture
def facilities():
    return [mirror_facility(external_id=f"fac_{i}") for i in range(3)]


def write(kind="facility.risk_changed", facility=None, n=1, **data):
    with transaction.atomic():
        events_write([(kind, facility, {"n": i, **data}) for i in range(n)])
    return list(Event.objects.order_by("-id")[:n])[::-1]


def get(client, key, **params):
    return client.get(URL, params, HTTP_X_API_KEY=key)


def test_events_in_id_order_after_the_given_one_and_the_next_after(client, feed_key):
    events = write("sync.run_finished", n=5)
    first = get(client, feed_key, limit=2)
    assert first.status_code == 200
    body = first.json()
    assert [e["id"] for e in body["events"]] == [e.public_id for e in events[:2]]
    assert body["next_after"] == events[1].public_id and body["truncated"] is False
    item = body["events"][0]
    assert set(item) == {"id", "type", "created_at", "data"}
    assert item["type"] == "sync.run_finished" and item["data"] == {"n": 0}
    assert item["created_at"].endswith("Z")

    rest = get(client, feed_key, after=body["next_after"], limit=500).json()
    assert [e["id"] for e in rest["events"]] == [e.public_id for e in events[2:]]
    # Caught up: nothing after the last, and next_after stays where it was.
    done = get(client, feed_key, after=rest["next_after"]).json()
    assert done == {"events": [], "next_after": rest["next_after"], "truncated": False}


def test_type_filter(client, feed_key):
    write("sync.run_finished", n=2)
    wanted = write("model_version.published", n=1)
    body = get(client, feed_key, type="model_version.published").json()
    assert [e["id"] for e in body["events"]] == [wanted[0].public_id]
    both = get(client, feed_key, type="model_version.published,sync.run_finished").json()
    assert len(both["events"]) == 3


def test_an_after_older_than_the_oldest_kept_event_is_truncated(client, feed_key):
    events = write("sync.run_finished", n=4)
    Event.objects.filter(id__lte=events[1].id).delete()  # pruned
    body = get(client, feed_key, after=events[0].public_id).json()
    assert body["truncated"] is True
    assert [e["id"] for e in body["events"]] == [e.public_id for e in events[2:]]
    # From the last pruned one there is no gap.
    ok = get(client, feed_key, after=events[1].public_id).json()
    assert ok["truncated"] is False and len(ok["events"]) == 2


@pytest.mark.parametrize(
    "params, field",
    [
        ({"after": "evt_9999999999999999"}, "after"),  # never issued
        ({"after": "evt_12"}, "after"),
        ({"after": "12"}, "after"),
        ({"limit": "0"}, "limit"),
        ({"limit": "501"}, "limit"),
        ({"limit": "ten"}, "limit"),
        ({"type": "facility.exploded"}, "type"),
        ({"type": "test"}, "type"),
    ],
)
def test_bad_input_is_a_400_naming_the_parameter(client, feed_key, params, field):
    write("sync.run_finished")
    err = assert_envelope(get(client, feed_key, **params), 400, "VALIDATION_ERROR")
    assert field in str(err["details"])


def test_an_after_beyond_the_last_issued_id_was_never_issued(client, feed_key):
    (event,) = write("sync.run_finished")
    never = event_public_id(event.id + 1)
    err = assert_envelope(get(client, feed_key, after=never), 400, "VALIDATION_ERROR")
    assert "never issued" in str(err["details"])


def test_the_feed_needs_the_events_read_scope(client):
    reader = api_key_create(name="reader", scopes=["threatmap:read"])[1]
    assert_envelope(get(client, reader), 403, "AUTH_FORBIDDEN")
    assert_envelope(client.get(URL), 401, "AUTH_INVALID_CREDENTIALS")


def test_a_bound_scope_sees_only_its_facilities_events(facilities):
    a, b, c = facilities
    pf = Portfolio.objects.create(slug="two", name="Two")
    PortfolioFacility.objects.bulk_create(
        [PortfolioFacility(portfolio=pf, facility=a), PortfolioFacility(portfolio=pf, facility=b)]
    )
    write(facility=a.pk, n=2)
    write(facility=c.pk, n=2)
    write("sync.run_finished")
    write(facility=b.pk)
    scope = FacilityScope((pf.pk,), "p", frozenset({a.pk, b.pk}), frozenset({"fac_0", "fac_1"}))
    page = event_feed(after=None, limit=100, types=(), scope=scope)
    seen = Event.objects.filter(id__in=[int(e["id"][4:]) for e in page.events])
    assert {e.facility_id for e in seen} == {a.pk, b.pk} and len(page.events) == 3
    assert event_feed(after=None, limit=100, types=(), scope=None).events.__len__() == 6
    assert Facility.objects.count() == 3
