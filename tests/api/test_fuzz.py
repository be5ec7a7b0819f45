"""Schemathesis over the OpenAPI document, in process against the WSGI app on the real
database: every operation (the signed POSTs included), positive and negative data, the
boundary cases of the coverage phase and seeded, derandomized Hypothesis examples, with all
of Schemathesis' response checks. It must find no server error, no response that breaks the
schema, no undocumented status, no schema-valid request refused and no schema-invalid one
accepted.

A small realistic data set is loaded first (the demo portfolio generator, and a fetched photo)
so that ids in paths hit real objects as well as random ones; the key used has every scope
and a rate limit high enough to test the endpoints, not the throttle.
"""

from __future__ import annotations

import io
import json
from datetime import UTC, date, datetime, timedelta

import pytest
import schemathesis
from django.core.files.base import ContentFile
from django.core.management import call_command
from django.core.signals import request_finished, request_started
from django.db import close_old_connections, transaction
from hypothesis import HealthCheck, Phase, given, seed, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    positive_data_acceptance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from condoit.demo import write_export
from consumers.portfolios import portfolio_save
from equipment.choices import PhotoStatus
from equipment.models import Equipment, Photo
from facilities.models import Facility
from masterbus.api.signatures import sign
from masterbus.services import api_key_create
from tests.photos.conftest import image_bytes
from voltmetrics.services import risk_recompute

pytestmark = [pytest.mark.services, pytest.mark.django_db]

SEED = 20_251_207
CONDOIT_SECRET = "fuzz-condoit-secret"
VOLT_SECRET = "fuzz-voltmetrics-secret"
SIGNATURE_HEADERS = {
    "/api/v1/condoit/events": ("X-Condoit-Signature", CONDOIT_SECRET),
    "/api/v1/webhooks/voltmetrics": ("X-VoltMetrics-Signature", VOLT_SECRET),
}
EVENT_ID_FIELD = {"/api/v1/condoit/events": "id", "/api/v1/webhooks/voltmetrics": "event_id"}
# Hypothesis examples per operation and generation mode, on top of the coverage cases.
EXAMPLES = {"positive": 100, "negative": 70}
MIN_CASES = 1_000
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    response_headers_conformance,
    negative_data_rejection,
    positive_data_acceptance,
]
FUZZ_USER = ("fuzz-user", "fuzz-pass-1234")


@pytest.fixture
def keep_connection():
    """Requests go through the real WSGI handler, which closes the database connection when
    a request ends; the test's transaction lives on it, so keep it (as Django's test client
    does)."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


@pytest.fixture
def world(settings, tmp_path, django_user_model, keep_connection):
    """The demo portfolio at a small size with its figures, a fetched photo, a user, a key
    with every scope, and a portfolio of one facility."""
    settings.MEDIA_ROOT = str(tmp_path / "media")
    # Failed logins hash a password too: a fast hasher keeps the token cases cheap.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    settings.CONDOIT_WEBHOOK_SECRET = CONDOIT_SECRET
    settings.VOLTMETRICS_WEBHOOK_SECRET = VOLT_SECRET
    settings.API_TOKEN_RATE_LIMIT_PER_MINUTE = 1_000_000
    settings.LOGIN_LOCKOUT_FAILURES = settings.AXES_FAILURE_LIMIT = 1_000_000
    export = tmp_path / "portfolio.json"
    write_export(
        str(export), facilities=3, equipment_per_facility=5, seed=7, as_of=date(2025, 6, 30)
    )
    call_command("import_condoit", str(export), "--no-progress", stdout=io.StringIO())
    risk_recompute()
    equipment = Equipment.objects.order_by("external_id").first()
    photo = Photo.objects.create(
        external_id="ph_fuzz", equipment=equipment, url="https://photos.condoit.example/f.png"
    )
    photo.image.save("ph_fuzz.png", ContentFile(image_bytes("PNG", size=(64, 48))), save=False)
    photo.thumbnail.save("ph_fuzz.jpg", ContentFile(image_bytes("JPEG", size=(32, 24))))
    Photo.objects.filter(pk=photo.pk).update(
        status=PhotoStatus.FETCHED, content_type="image/png", fetched_at="2025-02-01T10:00:00Z"
    )
    django_user_model.objects.create_user(FUZZ_USER[0], password=FUZZ_USER[1])
    _, raw = api_key_create(
        name="fuzz",
        scopes=["threatmap:read", "condoit:push", "voltmetrics:callback", "events:read"],
        rate_limit=1_000_000,
    )
    portfolio_save(
        slug="fuzz-sites", name="Fuzz sites", facility_ids=[Facility.objects.first().external_id]
    )
    return {
        "key": raw,
        "slug": ["fuzz-sites"],
        "today": date.today(),
        "facility_id": list(Facility.objects.values_list("external_id", flat=True)),
        "equipment_id": list(Equipment.objects.values_list("external_id", flat=True)),
        "photo_id": ["ph_fuzz"],
        "statuses": {},
        "seq": 0,
    }


def _strategies(operation, mode: GenerationMode, world) -> st.SearchStrategy:
    """Cases of ``operation`` in ``mode``; positive ones name real objects half the time."""
    generated = operation.as_strategy(generation_mode=mode)
    names = [p.name for p in operation.path_parameters]
    if mode is not GenerationMode.POSITIVE or not names:
        return generated
    real = st.fixed_dictionaries({n: st.sampled_from(world[n]) for n in names}).flatmap(
        lambda ids: operation.as_strategy(generation_mode=mode, path_parameters=ids)
    )
    return st.one_of(generated, real)


TIMESTAMPS = ("createdAt", "updatedAt", "deletedAt", "lastInspectionDate", "performedAt")
SAFE_TIMESTAMP = "2000-01-01T00:00:00Z"


def _on_the_utc_calendar(record: dict, key: str) -> None:
    """An instant whose UTC date falls outside years 1–9999 ("0001-01-01T00:00:00+05:00")
    is refused (400); the schema's date-time cannot say so."""
    value = record.get(key)
    if isinstance(value, str):
        try:
            datetime.fromisoformat(value).astimezone(UTC)
        except (ValueError, OverflowError):
            record[key] = SAFE_TIMESTAMP


def _without_nul_in_keys(value):
    if isinstance(value, dict):
        return {k.replace("\x00", ""): _without_nul_in_keys(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_without_nul_in_keys(v) for v in value]
    return value


def _realistic_event(body: dict, world, draw) -> None:
    """What a schema cannot say about a valid record, made true (see condoit/
    openapi.py): instants on the UTC calendar, dates no later than tomorrow, coordinates in
    pairs, no self-feeding, unique photo ids, no NUL in a field name (OpenAPI 3.0 has no
    ``propertyNames``); and parents that exist, most of the time."""
    _on_the_utc_calendar(body, "occurredAt")
    if isinstance(body.get("data"), dict):
        body["data"] = _without_nul_in_keys(body["data"])
    data = body.get("data")
    kind, _, action = str(body.get("type")).partition(".")
    if not isinstance(data, dict) or action == "deleted":
        return
    today = world["today"].isoformat()
    tomorrow = (world["today"] + timedelta(days=1)).isoformat()
    for key in ("arcFlashStudyDate", "infraredScanDate", "installDate"):
        if isinstance(data.get(key), str) and data[key] > tomorrow:
            data[key] = today
    for key in TIMESTAMPS:
        _on_the_utc_calendar(data, key)
    if isinstance(data.get("performedAt"), str) and data["performedAt"][:10] >= today:
        data["performedAt"] = SAFE_TIMESTAMP
    if (data.get("latitude") is None) != (data.get("longitude") is None):
        data["latitude"] = data["longitude"] = None
    if data.get("feedsFromId") is not None and data["feedsFromId"].strip() == data["id"].strip():
        data["feedsFromId"] = None
    for i, photo in enumerate(data.get("photos") or []):
        photo["id"] = f"ph_{i}_{photo['id']}"[:200]
        _on_the_utc_calendar(photo, "takenAt")
    parent = {"equipment": "facilityId", "maintenanceRecord": "equipmentId"}.get(kind)
    if parent and draw is not None and draw(st.booleans()):
        pool = world["facility_id" if kind == "equipment" else "equipment_id"]
        data[parent] = draw(st.sampled_from(pool))


def _real_credentials(case, world, draw) -> None:
    """Token requests with a real user's password or a fresh refresh token, now and then."""
    if not draw(st.booleans()):
        return
    from django.contrib.auth import get_user_model
    from rest_framework_simplejwt.tokens import RefreshToken

    if case.operation.path.endswith("/refresh"):
        user = get_user_model().objects.get(username=FUZZ_USER[0])
        case.body = {**case.body, "refresh": str(RefreshToken.for_user(user))}
    else:
        case.body = {**case.body, "username": FUZZ_USER[0], "password": FUZZ_USER[1]}


def _body_bytes(case) -> bytes:
    """The exact body the WSGI transport will send for ``case`` (werkzeug encodes ``json``
    with ``json.dumps``)."""
    prepared = case.as_transport_kwargs()
    if "json" in prepared:
        return json.dumps(prepared["json"]).encode()
    raw = prepared.get("data") or b""
    return raw.encode() if isinstance(raw, str) else raw


def _fresh_event_id(case, world) -> None:
    """A repeated event id answers 200 without a look at the rest (threatmap-api.md §Webhook
    signatures), so every case gets an id of its own; only an id valid by the schema is
    changed, and it stays valid (it was not what a negative case broke)."""
    field = EVENT_ID_FIELD.get(case.operation.path)
    body = case.body
    if field is None or not isinstance(body, dict):
        return
    value = body.get(field)
    if isinstance(value, str) and value.strip() and "\x00" not in value and len(value) <= 200:
        world["seq"] += 1
        suffix = f"~{world['seq']}"
        case.body = {**body, field: value[: 200 - len(suffix)] + suffix}


def _send(case, world) -> None:
    """Send ``case`` as generated (with the key, and a signature over the exact body bytes)
    and run every check; raises on a failed check."""
    headers = {"X-API-Key": world["key"]}
    _fresh_event_id(case, world)
    signed = SIGNATURE_HEADERS.get(case.operation.path)
    if signed is not None:
        header, secret = signed
        headers[header] = sign(secret, _body_bytes(case))
    # One request, one savepoint: whatever a request does wrong, the next starts clean.
    with transaction.atomic():
        response = case.call(headers=headers)
        seen = world["statuses"].setdefault(case.operation.label, {})
        seen[response.status_code] = seen.get(response.status_code, 0) + 1
        case.validate_response(response, checks=CHECKS, headers=headers)


def _run(operation, mode: GenerationMode, world, report) -> None:
    label = f"{operation.label} [{mode.value}]"

    def attempt(case, draw) -> None:
        if mode is GenerationMode.POSITIVE and isinstance(case.body, dict):
            if case.operation.path == "/api/v1/condoit/events":
                _realistic_event(case.body, world, draw)
            elif case.operation.path.startswith("/api/v1/auth/"):
                _real_credentials(case, world, draw)
        _attempt(case, label, world, report)

    strategy = _strategies(operation, mode, world)

    @seed(SEED)
    @settings(
        max_examples=EXAMPLES[mode.value],
        derandomize=True,
        database=None,
        deadline=None,
        phases=[Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(data=st.data())
    def fuzz(data):
        attempt(data.draw(strategy), data.draw)

    fuzz()


def test_schemathesis_finds_nothing(world):
    from masterbus.wsgi import application

    config = schemathesis.Config.from_dict(
        {
            "seed": SEED,
            "cache": {"enabled": False},
            "generation": {"deterministic": True},
            # A body over MAX_REQUEST_BODY_BYTES is refused with 413 before it is read.
            "checks": {
                "negative_data_rejection": {
                    "expected-statuses": [400, 401, 403, 404, 405, 409, 413, 415, 422, 429]
                }
            },
            # A well-formed event id that was never issued is a 400 (consumers.md §3): the
            # schema cannot say which ids were issued.
            "operations": [
                {
                    "include-path": "/api/v1/events",
                    "checks": {
                        "positive_data_acceptance": {
                            "expected-statuses": [200, 400, 401, 403, 404, 409, 429]
                        }
                    },
                }
            ],
        }
    )
    schema = schemathesis.openapi.from_wsgi("/api/v1/schema", application, config=config)
    report: dict = {"cases": 0, "failures": []}
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) == 17
    for operation in operations:
        coverage = schema.config.generation_for(operation=operation, phase="coverage")
        for case in schema.iter_coverage_cases(
            operation, generation_modes=list(GenerationMode), generation_config=coverage
        ):
            mode = case.meta.generation.mode if case.meta else None
            if mode is GenerationMode.POSITIVE and isinstance(case.body, dict):
                if operation.path == "/api/v1/condoit/events":
                    _realistic_event(case.body, world, None)
            _attempt(case, f"{operation.label} [coverage, {mode}]", world, report)
        for mode in GenerationMode:
            _run(operation, mode, world, report)
    statuses = world["statuses"]
    print(f"{report['cases']} cases; statuses by operation:")
    for label in sorted(statuses):
        print(f"  {label}: {dict(sorted(statuses[label].items()))}")
    assert not report["failures"], (
        f"{len(report['failures'])} failures in {report['cases']} cases:\n"
        + "\n".join(report["failures"][:40])
    )
    assert report["cases"] >= MIN_CASES
    # Every operation was exercised through to a success, not only refused.
    assert {op.label for op in operations} == set(statuses)
    for label, seen in statuses.items():
        assert any(200 <= status < 300 for status in seen), (label, seen)


def _attempt(case, label: str, world, report) -> None:
    report["cases"] += 1
    try:
        _send(case, world)
    except (Exception, BaseExceptionGroup) as exc:  # collected, then reported together
        report["failures"].append(f"{label}: {exc!s}"[:3000] + f"\n    {case.as_curl_command()}")
