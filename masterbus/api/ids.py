"""Condoit ids in URL paths (``/facilities/{facility_id}``, ``/photos/{photo_id}``, …).

A Condoit id is an opaque string of at most ``ID_MAX`` characters without NUL (condoit-source
§1, §4: such records are refused). The ``cid`` path converter matches only those, so any other
path segment is a 404 ``DATA_NOT_FOUND`` before a view or the database sees it (PostgreSQL
cannot even compare a text holding NUL); ``id_parameter`` documents the same bounds in the
OpenAPI schema.
"""

from __future__ import annotations

from django.urls import register_converter
from drf_spectacular.utils import OpenApiParameter

#: The longest Condoit id (condoit-source §4); Condoit ingestion validates records with it.
ID_MAX = 200


class CondoitIdConverter:
    regex = rf"[^/\x00]{{1,{ID_MAX}}}"

    def to_python(self, value: str) -> str:
        return value

    def to_url(self, value: str) -> str:
        return value


register_converter(CondoitIdConverter, "cid")

ID_SCHEMA = {"type": "string", "minLength": 1, "maxLength": ID_MAX, "pattern": "^[^/\\u0000]+$"}


def id_parameter(name: str, what: str) -> OpenApiParameter:
    return OpenApiParameter(
        name, ID_SCHEMA, OpenApiParameter.PATH, required=True, description=f"Condoit {what} id."
    )
