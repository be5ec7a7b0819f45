"""``GET /api/v1/export/threatmap``: the camelCase export from the stored assessments."""

from __future__ import annotations

import hashlib
import json
from functools import cache, partial
from pathlib import Path

from django.http import HttpResponse
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework.renderers import JSONRenderer
from rest_framework.views import APIView

from equipment.photo_urls import photo_signed_url
from masterbus.api.schema import READ_ERRORS, error_responses

from . import scoping
from .export import build_export
from .params import ExportQuery, export_params

SCHEMA_PATH = Path(__file__).resolve().parent / "schemas" / "threatmap-export.schema.json"


def _inline_refs(node, defs):
    if isinstance(node, dict):
        if "$ref" in node:
            return _inline_refs(defs[node["$ref"].rsplit("/", 1)[-1]], defs)
        return {k: _inline_refs(v, defs) for k, v in node.items() if not k.startswith("$")}
    if isinstance(node, list):
        return [_inline_refs(v, defs) for v in node]
    return node


@cache
def openapi_schema() -> dict:
    """The hand-written JSON Schema with its $refs inlined, as an OpenAPI response schema."""
    doc = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    return _inline_refs(doc, doc.get("$defs", {}))


class ThreatMapExportView(APIView):
    @extend_schema(
        operation_id="export_threatmap",
        summary="ThreatMap export (camelCase Facility objects)",
        description=(
            "A JSON array of ThreatMap's `Facility` objects, spelt as its TypeScript interfaces "
            "(camelCase), built from the stored assessments. Optional keys are omitted, never "
            "null. Facilities without coordinates or without counted equipment are left out "
            "(`manage.py export_threatmap` lists them). `photo` is a signed absolute thumbnail "
            "URL. The JSON Schema is threatmap/schemas/threatmap-export.schema.json. "
            "Credentials bound to portfolios get their facilities only; `portfolio` narrows "
            "to one portfolio they see."
        ),
        parameters=[ExportQuery],
        responses={
            200: OpenApiResponse(openapi_schema()),
            304: OpenApiResponse(description="Not modified (If-None-Match matched the ETag)"),
            **error_responses("VALIDATION_ERROR", "DATA_NOT_FOUND", *READ_ERRORS),
        },
        tags=["export"],
    )
    def get(self, request):
        query = export_params(request.query_params)
        scope = scoping.list_scope(request, query.get("portfolio", ""))
        entries, _skipped = build_export(
            photo_url=partial(_photo_url, request=request),
            facility_pks=scoping.facility_pks(scope),
        )
        body = JSONRenderer().render(entries)
        etag = f'"{hashlib.sha256(body).hexdigest()[:40]}"'
        inm = request.META.get("HTTP_IF_NONE_MATCH", "")
        if inm and any(t.strip().removeprefix("W/") == etag for t in inm.split(",")):
            response = HttpResponse(status=304)
            del response["Content-Type"]
        else:
            response = HttpResponse(body, content_type="application/json; charset=utf-8")
        response["ETag"] = etag
        # Authenticated data: browsers may keep it but must revalidate (cheap with the ETag).
        response["Cache-Control"] = "private, no-cache"
        return response


def _photo_url(photo_external_id: str, *, request) -> str | None:
    return photo_signed_url(photo_external_id, request=request)
