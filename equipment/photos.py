"""Fetch equipment photos from Condoit (condoit-source.md §1 Equipment ``photos``).

The one HTTP path to Condoit's photo hosts. A photo is fetched only from a host listed in
``CONDOIT_PHOTO_HOSTS``; redirects are followed by hand, at most ``MAX_REDIRECTS`` hops, and
only to listed hosts; the host's addresses — and the address actually connected to, so DNS
rebinding cannot slip through — must be public unless ``PHOTO_ALLOW_PRIVATE_HOSTS``. The
answer must declare an ``image/*`` Content-Type, stay under ``PHOTO_MAX_BYTES`` (enforced
while reading, with or without Content-Length), and open and verify with Pillow within its
decompression-bomb limit. The original and a thumbnail are stored under MEDIA_ROOT.

:func:`photo_fetch` never raises for anything a host sends: it returns a :class:`FetchOutcome`
and leaves the photo ``fetched`` or ``failed`` with a short error. ``retryable`` outcomes
(timeouts, connection errors, 429, 5xx) are retried by the task.
"""

from __future__ import annotations

import io
import ipaddress
import logging
import os
import re
import socket
import time
import warnings
from dataclasses import dataclass
from urllib.parse import urljoin, urlsplit

import requests
from django.conf import settings
from django.core.files.base import ContentFile
from django.db import transaction
from django.utils import timezone
from PIL import Image, ImageOps
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

from masterbus.changes import announce, photo_fetched
from masterbus.http import is_retryable_status

from .choices import PhotoStatus
from .models import Photo

log = logging.getLogger(__name__)

MAX_REDIRECTS = 3
CHUNK = 64 * 1024
ERROR_MAX = 500
# Formats Pillow may open: common photo formats only (a smaller parser surface). JPEG also
# opens multi-picture JPEGs (format "MPO"), stored as image/jpeg.
FORMATS = ("JPEG", "PNG", "GIF", "WEBP", "BMP", "TIFF")
_REDIRECTS = (301, 302, 303, 307, 308)


class PhotoRefused(Exception):
    """The photo cannot be stored (permanent for this URL)."""


class _Transient(Exception):
    """A failure worth retrying later (timeout, connection error, 429, 5xx)."""


class BlockedAddress(Exception):
    """The connection went to a private, loopback, link-local or reserved address.

    Deliberately not an OSError, so urllib3 neither retries nor wraps it."""


@dataclass(frozen=True, slots=True)
class FetchOutcome:
    photo_id: int
    status: str  # fetched | failed | pending (not fetched: skipped)
    error: str = ""
    retryable: bool = False


# --- addresses --------------------------------------------------------------------------------


def address_allowed(ip: str) -> bool:
    if settings.PHOTO_ALLOW_PRIVATE_HOSTS:
        return True
    try:
        addr = ipaddress.ip_address(ip.split("%", 1)[0])
    except ValueError:
        return False
    if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped is not None:
        addr = addr.ipv4_mapped
    return addr.is_global and not addr.is_multicast


def host_allowed(host: str | None) -> bool:
    """``host`` is listed in CONDOIT_PHOTO_HOSTS (case-insensitive; ``*.example.com`` lists
    the subdomains of example.com)."""
    if not host:
        return False
    host = host.rstrip(".").lower()
    for entry in settings.CONDOIT_PHOTO_HOSTS:
        entry = entry.strip().rstrip(".").lower()
        if not entry:
            continue
        if entry.startswith("*."):
            if host.endswith(entry[1:]) and host != entry[2:]:
                return True
        elif host == entry:
            return True
    return False


def _check_url(url: str) -> tuple[str, int]:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https"):
        raise PhotoRefused(f"not an http(s) URL: {parts.scheme or 'none'}")
    if parts.username or parts.password:
        raise PhotoRefused("URL carries credentials")
    host = parts.hostname
    if not host_allowed(host):
        raise PhotoRefused(f"host not in CONDOIT_PHOTO_HOSTS: {host or '?'}")
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        raise PhotoRefused("invalid port") from None
    return host, port


def _resolve_checked(host: str, port: int) -> None:
    """Refuse a host any of whose addresses is not public (before connecting at all)."""
    if settings.PHOTO_ALLOW_PRIVATE_HOSTS:
        return
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise _Transient(f"cannot resolve {host}: {exc}") from None
    for info in infos:
        ip = info[4][0]
        if not address_allowed(ip):
            raise PhotoRefused(f"{host} resolves to a non-public address {ip}")


# --- a session that checks the address it actually connected to ------------------------------


class _GuardMixin:
    def _new_conn(self):
        sock = super()._new_conn()
        try:
            peer = sock.getpeername()[0]
        except OSError:
            peer = ""
        if not address_allowed(peer):
            sock.close()
            raise BlockedAddress(f"connected to a non-public address {peer or '?'}")
        return sock


class _GuardedHTTPConnection(_GuardMixin, HTTPConnection):
    pass


class _GuardedHTTPSConnection(_GuardMixin, HTTPSConnection):
    pass


class _GuardedHTTPPool(HTTPConnectionPool):
    ConnectionCls = _GuardedHTTPConnection


class _GuardedHTTPSPool(HTTPSConnectionPool):
    ConnectionCls = _GuardedHTTPSConnection


class _GuardedAdapter(HTTPAdapter):
    def init_poolmanager(self, *args, **kwargs):
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = {
            "http": _GuardedHTTPPool,
            "https": _GuardedHTTPSPool,
        }


def photo_session() -> requests.Session:
    session = requests.Session()
    # No proxies or .netrc from the environment: the peer must be the photo host itself.
    session.trust_env = False
    adapter = _GuardedAdapter(max_retries=0)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    session.headers["User-Agent"] = "MasterBus-photo-fetch/1"
    session.headers["Accept"] = "image/*"
    return session


# --- download ---------------------------------------------------------------------------------


def _download(url: str, session: requests.Session) -> tuple[bytes, str]:
    """GET ``url`` following allowed redirects by hand; ``(body, declared content type)``."""
    max_bytes = settings.PHOTO_MAX_BYTES
    timeout = settings.PHOTO_FETCH_TIMEOUT
    deadline = time.monotonic() + timeout
    for _hop in range(MAX_REDIRECTS + 1):
        host, port = _check_url(url)
        _resolve_checked(host, port)
        try:
            resp = session.get(
                url,
                stream=True,
                allow_redirects=False,
                timeout=(min(timeout, settings.PHOTO_CONNECT_TIMEOUT), timeout),
            )
        except BlockedAddress as exc:
            raise PhotoRefused(str(exc)) from None
        except requests.Timeout:
            raise _Transient("timed out") from None
        except requests.RequestException as exc:
            raise _Transient(f"connection failed: {type(exc).__name__}") from None
        with resp:
            if resp.status_code in _REDIRECTS:
                location = resp.headers.get("Location")
                if not location:
                    raise PhotoRefused(f"HTTP {resp.status_code} without Location")
                url = urljoin(url, location)
                continue
            if is_retryable_status(resp.status_code):
                raise _Transient(f"HTTP {resp.status_code}")
            if resp.status_code != 200:
                raise PhotoRefused(f"HTTP {resp.status_code}")
            ctype = resp.headers.get("Content-Type", "").split(";", 1)[0].strip().lower()
            if not ctype.startswith("image/"):
                raise PhotoRefused(f"not an image: Content-Type {ctype or 'missing'}")
            declared = resp.headers.get("Content-Length")
            if declared and declared.isdigit() and int(declared) > max_bytes:
                raise PhotoRefused(f"too large: {declared} bytes (limit {max_bytes})")
            buf = bytearray()
            try:
                for chunk in resp.iter_content(CHUNK):
                    buf += chunk
                    if len(buf) > max_bytes:
                        raise PhotoRefused(f"too large: over {max_bytes} bytes")
                    if time.monotonic() > deadline:
                        raise _Transient("timed out while reading")
            except requests.RequestException as exc:
                raise _Transient(f"read failed: {type(exc).__name__}") from None
            return bytes(buf), ctype
    raise PhotoRefused(f"more than {MAX_REDIRECTS} redirects")


# --- images -----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Images:
    content_type: str
    extension: str
    thumbnail: bytes
    thumbnail_extension: str


def _open(data: bytes) -> Image.Image:
    return Image.open(io.BytesIO(data), formats=FORMATS)


def _inspect(data: bytes) -> _Images:
    """Verify ``data`` is an image Pillow accepts and make its thumbnail."""
    with warnings.catch_warnings():
        # Above MAX_IMAGE_PIXELS Pillow only warns (it raises above twice that): both refuse.
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            with _open(data) as img:
                fmt = img.format
                img.verify()
            with _open(data) as img:
                img.load()
                img = ImageOps.exif_transpose(img)
                size = settings.PHOTO_THUMBNAIL_SIZE
                img.thumbnail((size, size))
                out = io.BytesIO()
                if img.mode in ("RGBA", "LA", "P") and (
                    img.mode != "P" or "transparency" in img.info
                ):
                    img.convert("RGBA").save(out, "PNG", optimize=True)
                    thumb_ext = ".png"
                else:
                    img.convert("RGB").save(out, "JPEG", quality=85, optimize=True)
                    thumb_ext = ".jpg"
        except (Image.DecompressionBombError, Image.DecompressionBombWarning):
            raise PhotoRefused("image too large in pixels (decompression bomb limit)") from None
        except Exception as exc:  # Pillow raises many types on corrupt input
            raise PhotoRefused(f"not a valid image ({type(exc).__name__})") from None
    ctype = Image.MIME.get(fmt or "", "")
    if fmt == "MPO":
        ctype = "image/jpeg"
    if not ctype.startswith("image/"):
        raise PhotoRefused(f"unsupported image format {fmt}")
    ext = {"image/jpeg": ".jpg", "image/png": ".png", "image/gif": ".gif", "image/webp": ".webp",
           "image/bmp": ".bmp", "image/tiff": ".tif"}.get(ctype, "")  # fmt: skip
    return _Images(ctype, ext, out.getvalue(), thumb_ext)


# --- the service ------------------------------------------------------------------------------


def _short(msg: str) -> str:
    return msg if len(msg) <= ERROR_MAX else msg[: ERROR_MAX - 1] + "…"


def _file_stem(external_id: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]", "_", external_id)[:100] or "photo"


def _delete_files(*fields) -> None:
    for f in fields:
        if f:
            try:
                f.storage.delete(f.name)
            except Exception:  # a missing file is not an error here
                log.warning("could not delete %s", f.name, exc_info=True)


def _mark_failed(photo_id: int, url: str, error: str) -> None:
    # Only if the URL is still the one tried (ingestion may have replaced it meanwhile).
    Photo.objects.filter(pk=photo_id, url=url).exclude(status=PhotoStatus.FETCHED).update(
        status=PhotoStatus.FAILED, error=_short(error)
    )


def photo_fetch(
    *, photo_id: int, force: bool = False, session: requests.Session | None = None
) -> FetchOutcome:
    """Fetch one photo, store it and its thumbnail, and mark it ``fetched`` — or ``failed``
    with a short error. A fetched photo is left alone unless ``force``."""
    photo = Photo.objects.filter(pk=photo_id).first()
    if photo is None:
        return FetchOutcome(photo_id, "missing", "no such photo")
    if photo.status == PhotoStatus.FETCHED and not force:
        return FetchOutcome(photo_id, PhotoStatus.FETCHED)
    url = photo.url
    own = session is None
    session = session or photo_session()
    try:
        data, _declared = _download(url, session)
        images = _inspect(data)
    except PhotoRefused as exc:
        _mark_failed(photo_id, url, str(exc))
        return FetchOutcome(photo_id, PhotoStatus.FAILED, _short(str(exc)))
    except _Transient as exc:
        _mark_failed(photo_id, url, str(exc))
        return FetchOutcome(photo_id, PhotoStatus.FAILED, _short(str(exc)), retryable=True)
    except Exception as exc:  # never let a host's answer crash the worker
        log.exception("photo %s: unexpected error while fetching", photo.external_id)
        _mark_failed(photo_id, url, f"internal error ({type(exc).__name__})")
        return FetchOutcome(photo_id, PhotoStatus.FAILED, f"internal error ({type(exc).__name__})")
    finally:
        if own:
            session.close()
    try:
        return _store(photo_id, url, data, images)
    except Exception as exc:  # storage trouble (disk full, permissions): try again later
        log.exception("photo %s: could not store the image", photo.external_id)
        error = f"could not store the image ({type(exc).__name__})"
        _mark_failed(photo_id, url, error)
        return FetchOutcome(photo_id, PhotoStatus.FAILED, error, retryable=True)


def _store(photo_id: int, url: str, data: bytes, images: _Images) -> FetchOutcome:
    written = []
    try:
        with transaction.atomic():
            photo = Photo.objects.select_for_update().filter(pk=photo_id).first()
            if photo is None or photo.url != url:
                # Deleted or re-pointed while downloading: a new URL gets its own fetch.
                return FetchOutcome(photo_id, PhotoStatus.PENDING, "photo changed during the fetch")
            old = [(f.storage, f.name) for f in (photo.image, photo.thumbnail) if f.name]
            stem = _file_stem(photo.external_id)
            photo.image.save(stem + images.extension, ContentFile(data), save=False)
            written.append(photo.image)
            photo.thumbnail.save(
                stem + images.thumbnail_extension, ContentFile(images.thumbnail), save=False
            )
            written.append(photo.thumbnail)
            photo.status = PhotoStatus.FETCHED
            photo.content_type = images.content_type
            photo.fetched_at = timezone.now()
            photo.error = ""
            photo.save(
                update_fields=[
                    "image",
                    "thumbnail",
                    "status",
                    "content_type",
                    "fetched_at",
                    "error",
                ]
            )
    except Exception:
        _delete_files(*written)  # the row does not point at them
        raise
    current = {photo.image.name, photo.thumbnail.name}
    for storage, name in old:
        if name not in current:
            try:
                storage.delete(name)
            except Exception:
                log.warning("could not delete %s", name, exc_info=True)
    # Payloads that name this equipment's newest photo now have a URL to show.
    facility = (
        Photo.objects.filter(pk=photo_id)
        .values_list("equipment__facility__external_id", flat=True)
        .first()
    )
    if facility:
        announce(photo_fetched, facility_id=facility)
    return FetchOutcome(photo_id, PhotoStatus.FETCHED)


def thumbnail_content_type(name: str) -> str:
    ext = os.path.splitext(name)[1].lower()
    return {".png": "image/png", ".jpg": "image/jpeg", ".jpeg": "image/jpeg"}.get(ext, "image/jpeg")


def photos_pending(*, limit: int) -> list[int]:
    """Ids of photos waiting for a fetch (active equipment only), oldest rows first."""
    return list(
        Photo.objects.filter(status=PhotoStatus.PENDING, equipment__deleted_at__isnull=True)
        .order_by("id")
        .values_list("id", flat=True)[:limit]
    )
