from django.contrib import admin
from django.urls import include, path, re_path

from masterbus import health
from masterbus.api import errors

api_v1 = [
    path("condoit/", include("facilities.condoit.urls")),
]

urlpatterns = [
    path("health", health.health, name="health"),
    path("health/", health.health),
    path("ready", health.ready, name="ready"),
    path("ready/", health.ready),
    path("admin/", admin.site.urls),
    path("api/v1/", include(api_v1)),
    # Anything else under /api/ is a 404 in the error envelope.
    re_path(r"^api/", errors.handler404),
]

handler404 = "masterbus.api.errors.handler404"
handler500 = "masterbus.api.errors.handler500"
