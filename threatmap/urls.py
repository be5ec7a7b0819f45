"""ThreatMap read API routes (under /api/v1/). Every path answers with and without a trailing
slash; the slash variants are left out of the OpenAPI document (same operations). Ids are
``cid`` segments (masterbus.api.ids): anything else is a 404."""

from django.urls import path
from drf_spectacular.utils import extend_schema, extend_schema_view

from masterbus.api import ids as _ids  # noqa: F401  registers the cid path converter

from . import views

ROUTES = [
    ("facilities", views.FacilityListView, "threatmap-facilities"),
    ("facilities/<cid:facility_id>", views.FacilityDetailView, "threatmap-facility"),
    (
        "facilities/<cid:facility_id>/equipment",
        views.FacilityEquipmentView,
        "threatmap-facility-equipment",
    ),
    (
        "facilities/<cid:facility_id>/compliance",
        views.FacilityComplianceView,
        "threatmap-facility-compliance",
    ),
    ("facilities/<cid:facility_id>/risks", views.FacilityRisksView, "threatmap-facility-risks"),
    ("equipment/<cid:equipment_id>", views.EquipmentDetailView, "threatmap-equipment"),
    ("portfolio/summary", views.PortfolioSummaryView, "threatmap-portfolio-summary"),
    ("portfolios", views.PortfolioListView, "threatmap-portfolios"),
    (
        "portfolios/<slug:slug>/summary",
        views.PortfolioSlugSummaryView,
        "threatmap-portfolio-slug-summary",
    ),
]


def _unlisted(view):
    return extend_schema_view(get=extend_schema(exclude=True))(
        type(f"{view.__name__}Slash", (view,), {})
    )


urlpatterns = []
for route, view, name in ROUTES:
    urlpatterns += [
        path(route, view.as_view(), name=name),
        path(f"{route}/", _unlisted(view).as_view()),
    ]
