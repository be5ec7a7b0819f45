"""Routes of the photo endpoints (included in masterbus/urls.py api_v1; with and without a
trailing slash; ids are ``cid`` segments, masterbus.api.ids), and the one place that makes
their signed URLs."""

from __future__ import annotations

from django.conf import settings
from django.urls import path, reverse
from drf_spectacular.utils import extend_schema, extend_schema_view

from masterbus.api import ids as _ids  # noqa: F401  registers the cid path converter

from . import photo_views


def _unlisted(view):
    # The trailing-slash variant: same operation, left out of the OpenAPI document.
    return extend_schema_view(get=extend_schema(exclude=True))(
        type(f"{view.__name__}Slash", (view,), {})
    )


urlpatterns = []
for route, view, name in (
    ("photos/<cid:photo_id>", photo_views.PhotoView, "photo"),
    ("photos/<cid:photo_id>/thumbnail", photo_views.PhotoThumbnailView, "photo-thumbnail"),
):
    urlpatterns += [
        path(route, view.as_view(), name=name),
        path(f"{route}/", _unlisted(view).as_view()),
    ]


def photo_path(photo_external_id: str, *, thumbnail: bool = True) -> str:
    return reverse(
        "photo-thumbnail" if thumbnail else "photo", kwargs={"photo_id": photo_external_id}
    )


def photo_signed_url(photo_external_id: str, *, request=None, thumbnail: bool = True) -> str | None:
    """The absolute signed URL of a photo (its thumbnail by default), valid PHOTO_URL_TTL
    seconds; None when no absolute URL can be made (no request and no PUBLIC_BASE_URL)."""
    from masterbus.api.photo_urls import sign_path

    url = sign_path(
        photo_path(photo_external_id, thumbnail=thumbnail),
        settings.PHOTO_URL_TTL,
        request=request,
    )
    return url if url.startswith(("http://", "https://")) else None
