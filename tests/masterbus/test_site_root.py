"""Files at the site's root, served by WhiteNoise (WHITENOISE_ROOT)."""

from pathlib import Path

from django.conf import settings


def test_favicon_is_served(client):
    response = client.get("/favicon.ico")
    assert response.status_code == 200
    assert response["Content-Type"] in ("image/x-icon", "image/vnd.microsoft.icon")
    body = b"".join(response.streaming_content)
    assert body == (Path(settings.WHITENOISE_ROOT) / "favicon.ico").read_bytes()
    assert body[:4] == b"\x00\x00\x01\x00"  # an ICO file
