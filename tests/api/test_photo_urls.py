"""Signed photo URLs: absolute, expiring, HMAC over path and expiry."""

import time
from urllib.parse import parse_qs, urlsplit

import pytest
from django.test import RequestFactory

from masterbus.api.errors import ApiError
from masterbus.api.photo_urls import sign_path, verify_signed

from .conftest import assert_envelope, key_header

PATH = "/api/v1/test/photos/ph_1/thumbnail"


def parts(url):
    s = urlsplit(url)
    q = parse_qs(s.query)
    return s, int(q["exp"][0]), q["sig"][0]


def test_absolute_on_public_base_url(settings):
    settings.PUBLIC_BASE_URL = "https://mb.example.com/"
    url = sign_path(PATH)
    s, exp, sig = parts(url)
    assert (s.scheme, s.netloc, s.path) == ("https", "mb.example.com", PATH)
    assert exp >= time.time() + 3600 - 1
    assert len(sig) == 64


def test_absolute_on_request_host_without_public_base_url(settings):
    settings.PUBLIC_BASE_URL = ""
    request = RequestFactory().get("/", HTTP_HOST="localhost:8000")
    s, _, _ = parts(sign_path(PATH, request=request))
    assert (s.scheme, s.netloc) == ("http", "localhost:8000")


def test_stable_within_a_step_so_payloads_and_etags_stay_put(settings):
    settings.PHOTO_URL_EXP_STEP = 300
    t = 1_750_000_000  # a multiple of 300 + 100
    assert sign_path(PATH, now=t) == sign_path(PATH, now=t + 150)
    _, exp, _ = parts(sign_path(PATH, now=t))
    assert exp % 300 == 0 and t + 3600 <= exp < t + 3600 + 300


def _request(url):
    s = urlsplit(url)
    return RequestFactory().get(f"{s.path}?{s.query}")


def test_verify_accepts_own_signature_and_refuses_tampering(settings):
    url = sign_path(PATH, expires_in=60)
    verify_signed(_request(url))  # no exception
    s, exp, sig = parts(url)
    forged = [
        f"{PATH}?exp={exp + 1000}&sig={sig}",  # extended expiry
        f"/api/v1/test/photos/ph_2/thumbnail?exp={exp}&sig={sig}",  # another photo
        f"{PATH}?exp={exp}&sig={'0' * 64}",
        f"{PATH}?exp=soon&sig={sig}",
        f"{PATH}?exp={exp}",
        PATH,
    ]
    for bad in forged:
        with pytest.raises(ApiError) as exc:
            verify_signed(RequestFactory().get(bad))
        assert (exc.value.status_code, exc.value.error_code) == (403, "AUTH_FORBIDDEN")


def test_expired_signature_refused():
    url = sign_path(PATH, expires_in=60, now=time.time() - 7200)
    with pytest.raises(ApiError) as exc:
        verify_signed(_request(url))
    assert exc.value.status_code == 403 and "expired" in exc.value.message


def test_secret_matters(settings):
    settings.PHOTO_URL_SECRET = "one"
    url = sign_path(PATH)
    settings.PHOTO_URL_SECRET = "two"
    with pytest.raises(ApiError):
        verify_signed(_request(url))


@pytest.mark.django_db
@pytest.mark.urls("tests.api.urls")
def test_signed_url_is_the_credential_in_a_view(client, read_key):
    url = sign_path(PATH)
    s = urlsplit(url)
    ok = client.get(f"{s.path}?{s.query}")
    assert ok.status_code == 200 and ok.json() == {"photo": "ph_1"}
    last = "1" if s.query[-1] != "1" else "2"
    forged = client.get(f"{s.path}?{s.query[:-1]}{last}")
    assert_envelope(forged, 403, "AUTH_FORBIDDEN")
    assert_envelope(client.get(PATH), 401, "AUTH_INVALID_CREDENTIALS")
    assert client.get(PATH, **key_header(read_key[1])).status_code == 200


MALFORMED = [
    "exp=1&sig=%C3%A9",  # non-ASCII signature (was a 500 in hmac.compare_digest)
    "exp=1&sig=%E2%82%AC" + "0" * 62,  # right length in characters, not in bytes
    "exp=%D9%A1%D9%A2&sig=" + "0" * 64,  # Arabic-Indic digits: int() would accept them
    "exp=" + "9" * 5000 + "&sig=" + "0" * 64,  # past int()'s digit limit
    "exp=" + "9" * 400 + "&sig=" + "0" * 64,  # a float overflow in the expiry check
    "exp=-5&sig=" + "0" * 64,
    "exp=%00&sig=%00",
    "exp=1&sig=" + "%F0%9F%92%A9" * 16,
]


@pytest.mark.django_db
@pytest.mark.urls("tests.api.urls")
@pytest.mark.parametrize("query", MALFORMED)
def test_malformed_signature_is_403_never_500(client, read_key, query):
    r = client.get(f"{PATH}?{query}", **key_header(read_key[1]))
    assert_envelope(r, 403, "AUTH_FORBIDDEN")


@pytest.mark.django_db
@pytest.mark.parametrize("query", MALFORMED[:2])
def test_real_thumbnail_route_refuses_non_ascii_signature(client, read_key, query):
    r = client.get(f"/api/v1/photos/abc/thumbnail?{query}", **key_header(read_key[1]))
    assert_envelope(r, 403, "AUTH_FORBIDDEN")
