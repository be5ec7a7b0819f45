"""Route of the ThreatMap export (included in masterbus/urls.py api_v1). Answers with and
without a trailing slash; the slash variant is left out of the OpenAPI document."""

from django.urls import path
from drf_spectacular.utils import extend_schema, extend_schema_view

from .export_views import ThreatMapExportView

_Slash = extend_schema_view(get=extend_schema(exclude=True))(
    type("ThreatMapExportSlashView", (ThreatMapExportView,), {})
)

urlpatterns = [
    path("export/threatmap", ThreatMapExportView.as_view(), name="export-threatmap"),
    path("export/threatmap/", _Slash.as_view()),
]
