"""Fixtures of the photo tests: a fake Condoit photo host on loopback (pytest-httpserver),
photos on mirrored equipment, and real images made with Pillow."""

import io
import os
from datetime import UTC, datetime

import pytest
from PIL import Image

from equipment.models import Equipment, Photo
from facilities.models import Facility

TS = datetime(2025, 1, 1, tzinfo=UTC)


@pytest.fixture(autouse=True)
def photo_settings(settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path / "media")
    settings.CONDOIT_PHOTO_HOSTS = ["localhost", "127.0.0.1"]
    # The fake host is on loopback.
    settings.PHOTO_ALLOW_PRIVATE_HOSTS = True
    settings.PHOTO_MAX_BYTES = 10 * 1024 * 1024
    settings.PHOTO_FETCH_TIMEOUT = 5.0
    settings.PHOTO_THUMBNAIL_SIZE = 320
    settings.PHOTO_URL_TTL = 3600
    settings.PHOTO_FETCH_RETRY_DELAY = 0
    settings.PUBLIC_BASE_URL = ""
    return settings


def image_bytes(fmt="PNG", size=(800, 600), mode="RGB", color=(200, 30, 30), noise=False) -> bytes:
    if noise:  # incompressible: the file is about as large as the pixels
        img = Image.frombytes("RGB", size, os.urandom(size[0] * size[1] * 3))
    else:
        img = Image.new(mode, size, color)
    # Some structure, so the encoders do real work.
    for x in range(0, size[0], 7):
        img.putpixel((x, (x * 3) % size[1]), (0, 0, 0) if mode == "RGB" else 0)
    buf = io.BytesIO()
    img.save(buf, fmt)
    return buf.getvalue()


@pytest.fixture
def equipment(db):
    fac = Facility.objects.create(
        external_id="fac_p", name="Photo Plant", condoit_created_at=TS, condoit_updated_at=TS,
        latitude=40.0, longitude=-90.0,
    )  # fmt: skip
    return Equipment.objects.create(
        external_id="eq_p", facility=fac, equipment_class="Panelboard", type="panel",
        name="Panel P", condoit_created_at=TS, condoit_updated_at=TS,
    )  # fmt: skip


@pytest.fixture
def make_photo(equipment):
    seq = iter(range(1, 10_000))

    def make(url, **over):
        n = next(seq)
        return Photo.objects.create(
            external_id=over.pop("external_id", f"ph_{n}"), equipment=over.pop("equipment", equipment),
            url=url, **over,
        )  # fmt: skip

    return make


def media_files(settings):
    from pathlib import Path

    root = Path(settings.MEDIA_ROOT)
    return sorted(p for p in root.rglob("*") if p.is_file()) if root.exists() else []


def hits(httpserver, path) -> int:
    """Requests the fake host received for ``path`` (the server is shared between tests)."""
    return sum(1 for request, _ in httpserver.log if request.path == path)
