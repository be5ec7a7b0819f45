from django.conf import settings
from django.contrib import admin
from django.urls import include, path, re_path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from masterbus import health
from masterbus.api import schema as _schema  # noqa: F401  registers the OpenAPI auth schemes
from masterbus.api.views import ApiNotFoundView, TokenObtainView, TokenRefreshView
from masterbus.metrics.views import metrics

api_v1 = [
    path("condoit/", include("condoit.urls")),
    path("webhooks/", include("voltmetrics.integration.urls")),
    re_path(r"^auth/token/?$", TokenObtainView.as_view(), name="auth-token"),
    re_path(r"^auth/token/refresh/?$", TokenRefreshView.as_view(), name="auth-token-refresh"),
    path("", include("consumers.urls")),
    path("", include("threatmap.export_urls")),
    path("", include("equipment.photo_urls")),
    path("", include("threatmap.urls")),
    re_path(r"^schema/?$", SpectacularAPIView.as_view(), name="schema"),
    re_path(r"^docs/?$", SpectacularSwaggerView.as_view(url_name="schema"), name="docs"),
]

urlpatterns = [
    path("health", health.health, name="health"),
    path("health/", health.health),
    path("ready", health.ready, name="ready"),
    path("ready/", health.ready),
    *([path("metrics", metrics, name="metrics")] if settings.METRICS_ENABLED else []),
    path("admin/", admin.site.urls),
    path("api/v1/", include(api_v1)),
    # Anything else under /api/ is a 404 in the error envelope.
    re_path(r"^api/", ApiNotFoundView.as_view()),
]

handler404 = "masterbus.api.errors.handler404"
handler500 = "masterbus.api.errors.handler500"
