"""``GET /api/v1/photos/{id}`` and ``/api/v1/photos/{id}/thumbnail``: the stored image bytes.

Authorised by the usual read credentials (key with ``threatmap:read``, or a user) or by a
signed URL (``?exp=…&sig=…``, threatmap-api.md §Browsers) so an ``<img>`` tag can load it
without headers; an expired or forged signature is 403 AUTH_FORBIDDEN. A photo that is
unknown, not fetched yet or failed is 404 DATA_NOT_FOUND, and so is one of a facility outside
the portfolios the credentials are bound to (masterbus.access).
"""

from __future__ import annotations

import hashlib

from django.conf import settings
from django.db.models import F
from django.http import FileResponse, HttpResponseNotModified
from django.utils.http import http_date
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework.exceptions import NotFound
from rest_framework.views import APIView

from masterbus.access import request_scope
from masterbus.api.ids import id_parameter
from masterbus.api.photo_urls import SignedUrlOrReadScope
from masterbus.api.schema import READ_ERRORS, error_responses

from .choices import PhotoStatus
from .models import Photo
from .photos import thumbnail_content_type

_PARAMS = [
    id_parameter("photo_id", "photo"),
    OpenApiParameter(
        "exp",
        {"type": "integer", "minimum": 0, "maximum": 999_999_999_999},
        OpenApiParameter.QUERY,
        description="Signed URL: expiry (unix seconds). Given with sig; a missing, expired or "
        "forged signature is 403.",
    ),
    OpenApiParameter(
        "sig",
        {"type": "string", "pattern": "^[0-9a-f]{64}$"},
        OpenApiParameter.QUERY,
        description="Signed URL: HMAC-SHA256 (hex) over path and expiry.",
    ),
]


def _etag(photo: Photo, kind: str, name: str) -> str:
    stamp = photo.fetched_at.isoformat() if photo.fetched_at else ""
    raw = f"{photo.external_id}\n{kind}\n{name}\n{stamp}".encode()
    return '"' + hashlib.sha256(raw).hexdigest()[:32] + '"'


def _matches(header: str, etag: str) -> bool:
    tags = [t.strip() for t in header.split(",")]
    return "*" in tags or etag in tags or f"W/{etag}" in tags


class _PhotoBytesView(APIView):
    permission_classes = [SignedUrlOrReadScope]
    kind = "image"

    def get(self, request, photo_id: str):
        photo = (
            Photo.objects.filter(
                external_id=photo_id,
                status=PhotoStatus.FETCHED,
                equipment__deleted_at__isnull=True,
            )
            .annotate(facility_pk=F("equipment__facility_id"))
            .only("external_id", "image", "thumbnail", "content_type", "fetched_at")
            .first()
        )
        scope = request_scope(request)
        if photo is not None and scope is not None and not scope.allows_pk(photo.facility_pk):
            photo = None  # outside the credentials' portfolios: as unknown (consumers.md §1)
        field = getattr(photo, self.kind, None) if photo is not None else None
        if not field:
            raise NotFound()
        if self.kind == "thumbnail":
            content_type = thumbnail_content_type(field.name)
        else:
            content_type = photo.content_type or "application/octet-stream"
        etag = _etag(photo, self.kind, field.name)
        headers = {
            "ETag": etag,
            # Bytes behind a credential or a signed URL: browsers only, for about the URL's life.
            "Cache-Control": f"private, max-age={settings.PHOTO_URL_TTL}",
            "X-Content-Type-Options": "nosniff",
        }
        if photo.fetched_at:
            headers["Last-Modified"] = http_date(photo.fetched_at.timestamp())
        inm = request.headers.get("If-None-Match")
        if inm and _matches(inm, etag):
            response = HttpResponseNotModified()
            for k, v in headers.items():
                response[k] = v
            return response
        try:
            fh = field.open("rb")
        except (FileNotFoundError, OSError):
            raise NotFound() from None
        response = FileResponse(fh, content_type=content_type)
        for k, v in headers.items():
            response[k] = v
        return response


_RESPONSES = {
    (200, "image/*"): OpenApiResponse(OpenApiTypes.BINARY, description="The image bytes"),
    304: OpenApiResponse(description="Not modified (If-None-Match matched the ETag)"),
    **error_responses("DATA_NOT_FOUND", *READ_ERRORS),
}


class PhotoView(_PhotoBytesView):
    kind = "image"

    @extend_schema(
        operation_id="photo_image",
        summary="A photo's original image",
        description="The stored original, with its Content-Type, ETag and Cache-Control. "
        "Authorised by the usual credentials or by a signed URL (exp, sig) as found in payloads.",
        parameters=_PARAMS,
        responses=_RESPONSES,
        tags=["photos"],
    )
    def get(self, request, photo_id: str):
        return super().get(request, photo_id)


class PhotoThumbnailView(_PhotoBytesView):
    kind = "thumbnail"

    @extend_schema(
        operation_id="photo_thumbnail",
        summary="A photo's thumbnail",
        description="A JPEG (PNG for images with transparency) thumbnail of at most "
        "PHOTO_THUMBNAIL_SIZE pixels. Authorised like the original.",
        parameters=_PARAMS,
        responses=_RESPONSES,
        tags=["photos"],
    )
    def get(self, request, photo_id: str):
        return super().get(request, photo_id)
