"""equipment/photos.py and equipment/tasks.py against a fake photo host on loopback."""

import io
import time

import pytest
from PIL import Image
from werkzeug import Response

from equipment import photos, tasks
from equipment.choices import PhotoStatus
from equipment.models import Photo

from .conftest import hits, image_bytes, media_files


def fetch(photo):
    outcome = photos.photo_fetch(photo_id=photo.pk)
    photo.refresh_from_db()
    return outcome


def assert_failed(photo, outcome, fragment, settings):
    assert outcome.status == PhotoStatus.FAILED
    assert photo.status == PhotoStatus.FAILED
    assert fragment in photo.error, photo.error
    assert len(photo.error) <= 500
    assert not photo.image and not photo.thumbnail
    assert media_files(settings) == []


# --- success ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fmt", "declared", "content_type", "thumb_format"),
    [("PNG", "image/png", "image/png", "JPEG"), ("JPEG", "image/jpeg", "image/jpeg", "JPEG")],
)
def test_a_real_image_is_stored_with_a_smaller_thumbnail(
    httpserver, make_photo, settings, fmt, declared, content_type, thumb_format
):
    body = image_bytes(fmt, size=(1200, 900))
    httpserver.expect_request("/fac/eq/ph.img").respond_with_data(body, content_type=declared)
    photo = make_photo(httpserver.url_for("/fac/eq/ph.img"))
    outcome = fetch(photo)
    assert outcome.status == PhotoStatus.FETCHED and outcome.error == ""
    assert photo.status == PhotoStatus.FETCHED
    assert photo.error == ""
    assert photo.fetched_at is not None
    assert photo.content_type == content_type
    with photo.image.open("rb") as fh:
        stored = fh.read()
    assert stored == body
    with Image.open(io.BytesIO(stored)) as img:
        assert img.size == (1200, 900)
    with photo.thumbnail.open("rb") as fh:
        thumb = fh.read()
    with Image.open(io.BytesIO(thumb)) as img:
        img.verify()
    with Image.open(io.BytesIO(thumb)) as img:
        assert img.format == thumb_format
        assert max(img.size) == 320
        assert img.size == (320, 240)
    assert len(thumb) < len(stored)
    assert len(media_files(settings)) == 2


def test_transparent_png_gets_a_png_thumbnail(httpserver, make_photo):
    body = image_bytes("PNG", size=(640, 640), mode="RGBA", color=(0, 0, 0, 0))
    httpserver.expect_request("/a.png").respond_with_data(body, content_type="image/png")
    photo = make_photo(httpserver.url_for("/a.png"))
    fetch(photo)
    assert photo.status == PhotoStatus.FETCHED
    assert photo.thumbnail.name.endswith(".png")


def test_refetch_replaces_the_old_files(httpserver, make_photo, settings):
    httpserver.expect_request("/a.png").respond_with_data(image_bytes(), content_type="image/png")
    photo = make_photo(httpserver.url_for("/a.png"))
    fetch(photo)
    first = media_files(settings)
    photos.photo_fetch(photo_id=photo.pk, force=True)
    photo.refresh_from_db()
    assert photo.status == PhotoStatus.FETCHED
    assert len(media_files(settings)) == 2
    assert media_files(settings) != first


def test_a_fetched_photo_is_not_fetched_again(httpserver, make_photo):
    httpserver.expect_request("/a.png").respond_with_data(image_bytes(), content_type="image/png")
    photo = make_photo(httpserver.url_for("/a.png"))
    fetch(photo)
    fetch(photo)
    assert hits(httpserver, "/a.png") == 1


# --- size cap ---------------------------------------------------------------------------------


def test_too_large_with_content_length(httpserver, make_photo, settings):
    settings.PHOTO_MAX_BYTES = 10_000
    body = image_bytes(size=(100, 100), noise=True)
    assert len(body) > 10_000
    httpserver.expect_request("/big.png").respond_with_data(body, content_type="image/png")
    photo = make_photo(httpserver.url_for("/big.png"))
    assert_failed(photo, fetch(photo), "too large", settings)


def test_too_large_without_content_length(httpserver, make_photo, settings):
    settings.PHOTO_MAX_BYTES = 10_000
    sent = []

    def endless(request):
        def gen():
            for _ in range(1000):  # up to 64 MB, far past the cap
                sent.append(1)
                yield b"\x89PNG" + b"\0" * 65532

        return Response(gen(), content_type="image/png")

    httpserver.expect_request("/stream.png").respond_with_handler(endless)
    photo = make_photo(httpserver.url_for("/stream.png"))
    outcome = fetch(photo)
    assert_failed(photo, outcome, "too large", settings)
    assert len(sent) < 1000  # it stopped reading early


def test_lying_content_length_is_capped_while_reading(httpserver, make_photo, settings):
    settings.PHOTO_MAX_BYTES = 10_000

    def liar(request):
        r = Response(b"\0" * 50_000, content_type="image/png")
        r.headers["Content-Length"] = "100"
        return r

    httpserver.expect_request("/liar.png").respond_with_handler(liar)
    photo = make_photo(httpserver.url_for("/liar.png"))
    outcome = fetch(photo)
    assert outcome.status == PhotoStatus.FAILED
    assert media_files(settings) == []


# --- not an image -----------------------------------------------------------------------------


def test_html_is_refused(httpserver, make_photo, settings):
    httpserver.expect_request("/x").respond_with_data("<html>hi</html>", content_type="text/html")
    photo = make_photo(httpserver.url_for("/x"))
    assert_failed(photo, fetch(photo), "not an image: Content-Type text/html", settings)


def test_missing_content_type_is_refused(httpserver, make_photo, settings):
    def bare(request):
        r = Response(image_bytes())
        del r.headers["Content-Type"]
        return r

    httpserver.expect_request("/x").respond_with_handler(bare)
    photo = make_photo(httpserver.url_for("/x"))
    assert_failed(photo, fetch(photo), "not an image", settings)


@pytest.mark.parametrize(
    "body",
    [
        b"definitely not a png",
        b"\x89PNG\r\n\x1a\n" + b"\0" * 200,  # a PNG signature, garbage after it
        image_bytes("PNG")[:300],  # truncated
        b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>',
        b"",
    ],
)
def test_image_header_with_garbage_is_refused(httpserver, make_photo, settings, body):
    httpserver.expect_request("/x.png").respond_with_data(body, content_type="image/png")
    photo = make_photo(httpserver.url_for("/x.png"))
    assert_failed(photo, fetch(photo), "not a valid image", settings)


@pytest.mark.parametrize("limit", [5_000, 1_000])  # warning band (≤ 2×) and error band (> 2×)
def test_decompression_bomb_limit(httpserver, make_photo, settings, monkeypatch, limit):
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", limit)
    httpserver.expect_request("/bomb.png").respond_with_data(
        image_bytes("PNG", size=(100, 100)), content_type="image/png"
    )
    photo = make_photo(httpserver.url_for("/bomb.png"))
    assert_failed(photo, fetch(photo), "decompression bomb", settings)


# --- where from -------------------------------------------------------------------------------


def test_host_not_listed_is_refused_without_a_request(httpserver, make_photo, settings):
    settings.CONDOIT_PHOTO_HOSTS = ["photos.condoit.example"]
    httpserver.expect_request("/a.png").respond_with_data(image_bytes(), content_type="image/png")
    photo = make_photo(httpserver.url_for("/a.png"))
    assert_failed(photo, fetch(photo), "host not in CONDOIT_PHOTO_HOSTS", settings)
    assert hits(httpserver, "/a.png") == 0


def test_private_address_is_refused_without_a_request(httpserver, make_photo, settings):
    settings.PHOTO_ALLOW_PRIVATE_HOSTS = False
    httpserver.expect_request("/a.png").respond_with_data(image_bytes(), content_type="image/png")
    photo = make_photo(httpserver.url_for("/a.png"))
    assert_failed(photo, fetch(photo), "non-public address", settings)
    assert hits(httpserver, "/a.png") == 0


def test_connected_address_is_checked_too(httpserver, make_photo, settings, monkeypatch):
    """DNS rebinding: the name looked public when checked, the connection went to loopback."""
    settings.PHOTO_ALLOW_PRIVATE_HOSTS = False
    monkeypatch.setattr(photos, "_resolve_checked", lambda host, port: None)
    httpserver.expect_request("/a.png").respond_with_data(image_bytes(), content_type="image/png")
    photo = make_photo(httpserver.url_for("/a.png"))
    assert_failed(photo, fetch(photo), "connected to a non-public address", settings)
    assert hits(httpserver, "/a.png") == 0


@pytest.mark.parametrize(
    ("ip", "allowed"),
    [
        ("8.8.8.8", True), ("2606:4700::1111", True), ("127.0.0.1", False), ("10.1.2.3", False),
        ("192.168.1.1", False), ("172.16.0.1", False), ("169.254.169.254", False),
        ("::1", False), ("fe80::1", False), ("fc00::1", False), ("::ffff:127.0.0.1", False),
        ("0.0.0.0", False), ("224.0.0.1", False), ("100.64.0.1", False), ("nonsense", False),
    ],
)  # fmt: skip
def test_address_allowed(settings, ip, allowed):
    settings.PHOTO_ALLOW_PRIVATE_HOSTS = False
    assert photos.address_allowed(ip) is allowed


def test_host_list_matching(settings):
    settings.CONDOIT_PHOTO_HOSTS = ["Photos.Condoit.example", "*.cdn.condoit.example"]
    assert photos.host_allowed("photos.condoit.example")
    assert photos.host_allowed("PHOTOS.condoit.example.")
    assert photos.host_allowed("eu.cdn.condoit.example")
    assert not photos.host_allowed("cdn.condoit.example")
    assert not photos.host_allowed("evilcdn.condoit.example")
    assert not photos.host_allowed("photos.condoit.example.evil.com")
    assert not photos.host_allowed(None)


def test_redirect_to_another_host_is_refused(httpserver, make_photo, settings):
    httpserver.expect_request("/a.png").respond_with_data(
        "", status=302, headers={"Location": "http://evil.example/a.png"}
    )
    photo = make_photo(httpserver.url_for("/a.png"))
    assert_failed(photo, fetch(photo), "host not in CONDOIT_PHOTO_HOSTS: evil.example", settings)
    assert hits(httpserver, "/a.png") == 1


def test_redirect_within_allowed_hosts_is_followed(httpserver, make_photo, settings):
    httpserver.expect_request("/old.png").respond_with_data(
        "", status=301, headers={"Location": "/new.png"}
    )
    httpserver.expect_request("/new.png").respond_with_data(image_bytes(), content_type="image/png")
    photo = make_photo(httpserver.url_for("/old.png"))
    fetch(photo)
    assert photo.status == PhotoStatus.FETCHED


def test_too_many_redirects(httpserver, make_photo, settings):
    for i in range(5):
        httpserver.expect_request(f"/r{i}").respond_with_data(
            "", status=302, headers={"Location": f"/r{i + 1}"}
        )
    photo = make_photo(httpserver.url_for("/r0"))
    assert_failed(photo, fetch(photo), "more than 3 redirects", settings)
    assert [hits(httpserver, f"/r{i}") for i in range(5)] == [1, 1, 1, 1, 0]


@pytest.mark.parametrize("url", ["ftp://localhost/a.png", "http://user:pw@localhost/a.png"])
def test_odd_urls_are_refused(make_photo, settings, url):
    photo = make_photo(url)
    outcome = fetch(photo)
    assert outcome.status == PhotoStatus.FAILED
    assert not outcome.retryable


# --- transient failures and the tasks ---------------------------------------------------------


def test_not_found_is_permanent(httpserver, make_photo, settings):
    httpserver.expect_request("/gone.png").respond_with_data("nope", status=404)
    photo = make_photo(httpserver.url_for("/gone.png"))
    outcome = fetch(photo)
    assert_failed(photo, outcome, "HTTP 404", settings)
    assert not outcome.retryable


def test_server_error_is_retryable(httpserver, make_photo, settings):
    httpserver.expect_request("/a.png").respond_with_data("oops", status=503)
    photo = make_photo(httpserver.url_for("/a.png"))
    outcome = fetch(photo)
    assert_failed(photo, outcome, "HTTP 503", settings)
    assert outcome.retryable


def test_timeout_fails_and_is_retryable(httpserver, make_photo, settings):
    settings.PHOTO_FETCH_TIMEOUT = 0.3

    def slow(request):
        time.sleep(1.0)
        return Response(image_bytes(), content_type="image/png")

    httpserver.expect_request("/slow.png").respond_with_handler(slow)
    photo = make_photo(httpserver.url_for("/slow.png"))
    outcome = fetch(photo)
    assert_failed(photo, outcome, "timed out", settings)
    assert outcome.retryable


def test_task_retries_transient_failures_then_gives_up(httpserver, make_photo, settings):
    settings.PHOTO_FETCH_MAX_RETRIES = 2
    httpserver.expect_request("/busy.png").respond_with_data("busy", status=503)
    photo = make_photo(httpserver.url_for("/busy.png"))
    tasks.photo_fetch_task.delay(photo.pk)
    photo.refresh_from_db()
    assert photo.status == PhotoStatus.FAILED
    assert "HTTP 503" in photo.error
    assert hits(httpserver, "/busy.png") == 3  # the first try and two retries


def test_task_recovers_when_the_host_comes_back(httpserver, make_photo, settings):
    settings.PHOTO_FETCH_MAX_RETRIES = 3
    answers = iter([Response("busy", status=503), Response("busy", status=429)])

    def flaky(request):
        return next(answers, None) or Response(image_bytes(), content_type="image/png")

    httpserver.expect_request("/flaky.png").respond_with_handler(flaky)
    photo = make_photo(httpserver.url_for("/flaky.png"))
    tasks.photo_fetch_task.delay(photo.pk)
    photo.refresh_from_db()
    assert photo.status == PhotoStatus.FETCHED
    assert photo.error == ""
    assert hits(httpserver, "/flaky.png") == 3


def test_task_does_not_retry_permanent_failures(httpserver, make_photo):
    httpserver.expect_request("/page").respond_with_data("<html/>", content_type="text/html")
    photo = make_photo(httpserver.url_for("/page"))
    assert tasks.photo_fetch_task.delay(photo.pk).get() == PhotoStatus.FAILED
    assert hits(httpserver, "/page") == 1


def test_task_survives_an_unknown_photo_and_unexpected_errors(db, make_photo, monkeypatch):
    assert tasks.photo_fetch_task.delay(999_999).get() == "missing"

    def boom(**kwargs):
        raise RuntimeError("database went away")

    monkeypatch.setattr(photos, "photo_fetch", boom)
    assert tasks.photo_fetch_task.delay(1).get() == "error"


def test_unexpected_error_inside_the_service_marks_failed(httpserver, make_photo, monkeypatch):
    httpserver.expect_request("/a.png").respond_with_data(image_bytes(), content_type="image/png")

    def boom(data):
        raise MemoryError

    monkeypatch.setattr(photos, "_inspect", boom)
    photo = make_photo(httpserver.url_for("/a.png"))
    outcome = fetch(photo)
    assert outcome.status == PhotoStatus.FAILED
    assert photo.error == "internal error (MemoryError)"


def test_pending_batch_fetches_pending_photos_of_active_equipment(
    httpserver, make_photo, equipment, settings
):
    httpserver.expect_request("/a.png").respond_with_data(image_bytes(), content_type="image/png")
    httpserver.expect_request("/b.jpg").respond_with_data(
        image_bytes("JPEG"), content_type="image/jpeg"
    )
    a = make_photo(httpserver.url_for("/a.png"))
    b = make_photo(httpserver.url_for("/b.jpg"))
    failed = make_photo(httpserver.url_for("/c.png"), status=PhotoStatus.FAILED, error="earlier")
    assert tasks.photos_fetch_pending_task.delay().get() == 2
    for p in (a, b, failed):
        p.refresh_from_db()
    assert (a.status, b.status, failed.status) == ("fetched", "fetched", "failed")
    assert b.content_type == "image/jpeg"
    # Nothing left to do; photos of deleted equipment are not fetched.
    assert tasks.photos_fetch_pending_task.delay().get() == 0
    from django.utils import timezone  # noqa: PLC0415

    equipment.deleted_at = timezone.now()
    equipment.save()
    make_photo(httpserver.url_for("/a.png"))
    assert tasks.photos_fetch_pending_task.delay().get() == 0


def test_beat_schedule_is_seeded(db):
    from django_celery_beat.models import PeriodicTask  # noqa: PLC0415

    task = PeriodicTask.objects.get(task="equipment.tasks.photos_fetch_pending_task")
    assert task.enabled
    assert (task.interval.every, task.interval.period) == (10, "minutes")


def test_photo_changed_during_fetch_is_left_pending(httpserver, make_photo, settings, monkeypatch):
    new_url = httpserver.url_for("/new.png")
    inspect = photos._inspect

    def moved(data):
        # Ingestion re-points the photo while its old URL is being downloaded.
        Photo.objects.filter(external_id="ph_moving").update(url=new_url)
        return inspect(data)

    monkeypatch.setattr(photos, "_inspect", moved)
    httpserver.expect_request("/old.png").respond_with_data(image_bytes(), content_type="image/png")
    photo = make_photo(httpserver.url_for("/old.png"), external_id="ph_moving")
    outcome = fetch(photo)
    assert outcome.status == PhotoStatus.PENDING
    assert photo.status == PhotoStatus.PENDING
    assert media_files(settings) == []


def test_a_fetch_invalidates_the_cached_facility_payloads(httpserver, make_photo):
    from threatmap import cache as tm_cache

    photo = make_photo(httpserver.url_for("/fac/eq/new.png"))
    facility = photo.equipment.facility.external_id
    before = tm_cache.generation(tm_cache.facility_scope(facility))
    httpserver.expect_request("/fac/eq/new.png").respond_with_data(
        image_bytes("PNG"), content_type="image/png"
    )
    assert fetch(photo).status == PhotoStatus.FETCHED
    assert tm_cache.generation(tm_cache.facility_scope(facility)) != before
