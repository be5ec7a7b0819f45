"""Fixtures of the consumers tests: webhook receivers and subscriptions; the ThreatMap test
world (tests/threatmap/conftest.py) with fetched photos, portfolios and keys bound to them."""

import pytest
from django.core.files.base import ContentFile
from django.db import transaction
from rest_framework.test import APIClient

from consumers.access import local_clear
from consumers.events import events_write
from consumers.models import Portfolio
from consumers.portfolios import api_key_bind, portfolio_save
from consumers.webhooks.services import subscription_create
from equipment.choices import PhotoStatus
from equipment.models import Photo
from masterbus.services import api_key_create
from tests.photos.conftest import image_bytes
from tests.threatmap.conftest import build_records
from voltmetrics.services import risk_recompute

from .receiver import receiver_running


@pytest.fixture(autouse=True)
def _fresh_scopes():
    """Scopes cached in this process belong to the previous test's database."""
    local_clear()
    yield
    local_clear()


def fetch_photos(tmp_path, settings):
    settings.MEDIA_ROOT = str(tmp_path / "media")
    for photo in Photo.objects.all():
        photo.image.save(f"{photo.external_id}.png", ContentFile(image_bytes("PNG", (64, 48))),
                         save=False)  # fmt: skip
        photo.thumbnail.save(f"{photo.external_id}.jpg",
                             ContentFile(image_bytes("JPEG", (32, 24))))  # fmt: skip
    Photo.objects.update(
        status=PhotoStatus.FETCHED, content_type="image/png", fetched_at="2025-02-01T10:00:00Z"
    )


@pytest.fixture
def world(db, import_export, tmp_path, settings):
    """Zeta Works (with photos), alpha plant, Beta Yard, Gone Depot (deleted); recomputed."""
    records = build_records()
    import_export(**records)
    fetch_photos(tmp_path, settings)
    risk_recompute()
    return records


@pytest.fixture
def two(world):
    """A portfolio of two facilities: alpha plant and Beta Yard (not Zeta Works)."""
    portfolio, _ = portfolio_save(
        slug="two", name="Two sites", facility_ids=["fac_alpha", "fac_beta"]
    )
    return portfolio


@pytest.fixture
def other(world):
    """A portfolio the bound key is not bound to: Zeta Works."""
    portfolio, _ = portfolio_save(slug="other", name="Other", facility_ids=["fac_zeta"])
    return portfolio


def key_client(raw: str) -> APIClient:
    c = APIClient()
    c.credentials(HTTP_X_API_KEY=raw)
    return c


def make_key(*portfolios: Portfolio, name="reader"):
    key, raw = api_key_create(name=name, scopes=["threatmap:read"], rate_limit=100_000)
    api_key_bind(key, portfolios)
    return key, raw


@pytest.fixture
def bound(two, other):
    """A client whose key is bound to ``two``."""
    return key_client(make_key(two, name="bound")[1])


@pytest.fixture
def unbound(world):
    return key_client(make_key(name="unbound")[1])


@pytest.fixture
def wh_settings(settings):
    """Loopback http receivers allowed, a short retry schedule and timeout."""
    settings.WEBHOOK_ALLOW_HTTP = True
    settings.WEBHOOK_ALLOW_PRIVATE = True
    settings.WEBHOOK_RETRY_SCHEDULE = [0.2, 0.2, 0.2]
    settings.WEBHOOK_TIMEOUT_SECONDS = 5.0
    return settings


@pytest.fixture
def receiver(wh_settings):
    with receiver_running() as r:
        yield r


@pytest.fixture
def emit(django_capture_on_commit_callbacks):
    """``emit((type, facility_pk, data), …)``: events written in a transaction, whose
    commit callbacks (the deliveries' kick) then run; returns the events' ids."""
    from consumers.models import Event

    def write(*rows):
        before = Event.objects.order_by("-id").values_list("id", flat=True).first() or 0
        with django_capture_on_commit_callbacks(execute=True):
            with transaction.atomic():
                events_write(list(rows))
        return list(Event.objects.filter(id__gt=before).values_list("id", flat=True))

    return write


@pytest.fixture
def subscribe(wh_settings):
    def make(url, **kw):
        return subscription_create(url=url, **kw)

    return make
