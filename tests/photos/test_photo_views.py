"""GET /api/v1/photos/{id} and /thumbnail: bytes, caching headers, signed URLs, envelopes."""

import io
import time
from urllib.parse import parse_qs, urlsplit

import pytest
from django.core.files.base import ContentFile
from PIL import Image

from equipment.choices import PhotoStatus
from equipment.photo_urls import photo_path, photo_signed_url
from masterbus.api.photo_urls import sign_path
from masterbus.choices import ApiScope
from masterbus.services import api_key_create

from .conftest import image_bytes


@pytest.fixture
def read_key(db):
    return api_key_create(name="tm", scopes=[ApiScope.THREATMAP_READ])[1]


@pytest.fixture
def fetched(make_photo):
    """A fetched photo with a PNG original and a JPEG thumbnail on disk."""
    photo = make_photo("https://photos.condoit.example/a.png", external_id="ph_ok")
    photo.image.save("ph_ok.png", ContentFile(image_bytes("PNG", size=(640, 480))), save=False)
    photo.thumbnail.save("ph_ok.jpg", ContentFile(image_bytes("JPEG", size=(320, 240))), save=False)
    photo.status = PhotoStatus.FETCHED
    photo.content_type = "image/png"
    photo.fetched_at = "2025-02-01T10:00:00Z"
    photo.save()
    photo.refresh_from_db()
    return photo


def body(response) -> bytes:
    return b"".join(response.streaming_content)


def assert_envelope(response, status, code):
    assert response.status_code == status, response.content
    assert response["Content-Type"].startswith("application/json")
    err = response.json()["error"]
    assert err["code"] == code
    assert set(err) == {"code", "message", "details", "request_id"}


@pytest.mark.parametrize(
    ("suffix", "content_type", "size"),
    [("", "image/png", (640, 480)), ("/thumbnail", "image/jpeg", (320, 240))],
)
def test_bytes_with_content_type_and_caching_headers(
    client, read_key, fetched, settings, suffix, content_type, size
):
    settings.PHOTO_URL_TTL = 900
    for slash in ("", "/"):
        response = client.get(f"/api/v1/photos/ph_ok{suffix}{slash}", HTTP_X_API_KEY=read_key)
        assert response.status_code == 200
        assert response["Content-Type"] == content_type
        assert response["Cache-Control"] == "private, max-age=900"
        assert response["X-Content-Type-Options"] == "nosniff"
        assert response["ETag"].startswith('"') and response["ETag"].endswith('"')
        assert "Last-Modified" in response
        with Image.open(io.BytesIO(body(response))) as img:
            assert img.size == size


def test_etags_differ_between_original_and_thumbnail_and_304(client, read_key, fetched):
    original = client.get("/api/v1/photos/ph_ok", HTTP_X_API_KEY=read_key)
    thumb = client.get("/api/v1/photos/ph_ok/thumbnail", HTTP_X_API_KEY=read_key)
    assert original["ETag"] != thumb["ETag"]
    again = client.get(
        "/api/v1/photos/ph_ok", HTTP_X_API_KEY=read_key, HTTP_IF_NONE_MATCH=original["ETag"]
    )
    assert again.status_code == 304
    assert again["ETag"] == original["ETag"]
    assert again.content == b""
    other = client.get(
        "/api/v1/photos/ph_ok", HTTP_X_API_KEY=read_key, HTTP_IF_NONE_MATCH='"something-else"'
    )
    assert other.status_code == 200


@pytest.mark.parametrize("state", ["pending", "failed", "unknown", "deleted-equipment", "no-file"])
@pytest.mark.parametrize("suffix", ["", "/thumbnail"])
def test_not_fetched_failed_or_unknown_is_404(client, read_key, make_photo, fetched, state, suffix):
    ext = "ph_other"
    if state == "pending":
        make_photo("https://photos.condoit.example/b.png", external_id=ext)
    elif state == "failed":
        make_photo("https://photos.condoit.example/b.png", external_id=ext,
                   status=PhotoStatus.FAILED, error="HTTP 404")  # fmt: skip
    elif state == "deleted-equipment":
        ext = "ph_ok"
        fetched.equipment.deleted_at = fetched.fetched_at
        fetched.equipment.save()
    elif state == "no-file":
        ext = "ph_ok"
        fetched.image.storage.delete(fetched.image.name)
        fetched.thumbnail.storage.delete(fetched.thumbnail.name)
    response = client.get(f"/api/v1/photos/{ext}{suffix}", HTTP_X_API_KEY=read_key)
    assert_envelope(response, 404, "DATA_NOT_FOUND")


def test_credentials_are_needed_without_a_signature(client, fetched):
    assert_envelope(client.get("/api/v1/photos/ph_ok/thumbnail"), 401, "AUTH_INVALID_CREDENTIALS")


def test_signed_url_works_without_credentials(client, fetched, settings):
    url = photo_signed_url("ph_ok", request=None) or ""
    assert url == ""  # no request and no PUBLIC_BASE_URL: no absolute URL
    settings.PUBLIC_BASE_URL = "http://testserver"
    url = photo_signed_url("ph_ok")
    parts = urlsplit(url)
    assert parts.path == "/api/v1/photos/ph_ok/thumbnail"
    assert set(parse_qs(parts.query)) == {"exp", "sig"}
    response = client.get(f"{parts.path}?{parts.query}")
    assert response.status_code == 200
    assert response["Content-Type"] == "image/jpeg"
    original = urlsplit(photo_signed_url("ph_ok", thumbnail=False))
    response = client.get(f"{original.path}?{original.query}")
    assert response.status_code == 200
    assert response["Content-Type"] == "image/png"


def test_expired_signature_is_403(client, fetched):
    url = urlsplit(sign_path(photo_path("ph_ok"), 60, now=time.time() - 3600))
    assert_envelope(client.get(f"{url.path}?{url.query}"), 403, "AUTH_FORBIDDEN")


@pytest.mark.parametrize(
    "query",
    [
        "exp={exp}&sig=" + "0" * 64,  # forged
        "exp={later}&sig={sig}",  # expiry moved
        "exp={exp}",  # signature missing
        "sig={sig}",  # expiry missing
        "exp=soon&sig={sig}",
    ],
)
def test_forged_signature_is_403(client, fetched, query):
    url = urlsplit(sign_path(photo_path("ph_ok"), 600))
    q = {k: v[0] for k, v in parse_qs(url.query).items()}
    forged = query.format(exp=q["exp"], sig=q["sig"], later=int(q["exp"]) + 86400)
    assert_envelope(client.get(f"{url.path}?{forged}"), 403, "AUTH_FORBIDDEN")


def test_signature_is_bound_to_its_path(client, fetched):
    thumb = urlsplit(sign_path(photo_path("ph_ok"), 600))
    # The thumbnail's signature does not open the original.
    response = client.get(f"{photo_path('ph_ok', thumbnail=False)}?{thumb.query}")
    assert_envelope(response, 403, "AUTH_FORBIDDEN")


def test_a_bad_signature_is_refused_even_with_credentials(client, read_key, fetched):
    response = client.get("/api/v1/photos/ph_ok/thumbnail?exp=1&sig=00", HTTP_X_API_KEY=read_key)
    assert_envelope(response, 403, "AUTH_FORBIDDEN")


def test_writes_are_not_allowed(client, read_key, fetched):
    response = client.post("/api/v1/photos/ph_ok", HTTP_X_API_KEY=read_key)
    assert response.status_code in (403, 405)
    assert response.json()["error"]["code"] in ("AUTH_FORBIDDEN", "METHOD_NOT_ALLOWED")


def test_a_fetched_photo_end_to_end(client, httpserver, make_photo, settings):
    """Fetched from the fake host by the task, then served through a signed URL."""
    from equipment.tasks import photo_fetch_task  # noqa: PLC0415

    settings.PUBLIC_BASE_URL = "http://testserver"
    original = image_bytes("JPEG", size=(1024, 768))
    httpserver.expect_request("/e2e.jpg").respond_with_data(original, content_type="image/jpeg")
    photo = make_photo(httpserver.url_for("/e2e.jpg"), external_id="ph_e2e")
    photo_fetch_task.delay(photo.pk)
    url = urlsplit(photo_signed_url("ph_e2e", thumbnail=False))
    response = client.get(f"{url.path}?{url.query}")
    assert response.status_code == 200
    assert body(response) == original
    thumb = urlsplit(photo_signed_url("ph_e2e"))
    with Image.open(io.BytesIO(body(client.get(f"{thumb.path}?{thumb.query}")))) as img:
        assert img.size == (320, 240)
