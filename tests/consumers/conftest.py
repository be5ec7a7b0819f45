import pytest
from django.db import transaction

from consumers.events import events_write
from consumers.webhooks.services import subscription_create
from tests.voltmetrics.conftest import records, world  # noqa: F401  (the small portfolio)

from .receiver import receiver_running


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
