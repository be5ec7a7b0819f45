"""Photo URLs in cached payloads.

Photo URLs are signed with an expiry and absolute to the request's host (or PUBLIC_BASE_URL),
so a cached payload cannot hold them. Selectors put a placeholder string where a URL goes;
:func:`finalize` swaps every placeholder in the rendered bytes for a freshly signed absolute
URL (``null`` when no absolute URL can be made). The placeholder starts with a NUL character,
which no Condoit string can hold (PostgreSQL text refuses NUL), so it never collides with data.
"""

from __future__ import annotations

import json
import re

from equipment.photo_urls import photo_signed_url

_PREFIX = "\x00tm-photo:"
# As JSONRenderer writes the placeholder string: NUL escaped as \u0000.
_PATTERN = re.compile(rb'"\\u0000tm-photo:([0-9a-f]+):(image|thumbnail)"')


def photo_ref(photo_external_id: str, kind: str = "thumbnail") -> str:
    """The placeholder for the signed URL of a photo's image or thumbnail."""
    return f"{_PREFIX}{photo_external_id.encode().hex()}:{kind}"


def finalize(body: bytes, request) -> bytes:
    """Replace the placeholders of a rendered payload with signed absolute URLs."""
    if b"tm-photo:" not in body:
        return body
    memo: dict[bytes, bytes] = {}

    def swap(m: re.Match) -> bytes:
        if m.group(0) not in memo:
            ext = bytes.fromhex(m.group(1).decode()).decode()
            url = photo_signed_url(ext, request=request, thumbnail=m.group(2) == b"thumbnail")
            memo[m.group(0)] = json.dumps(url).encode()
        return memo[m.group(0)]

    return _PATTERN.sub(swap, body)
