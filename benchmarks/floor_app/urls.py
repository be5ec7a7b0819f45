"""The project's URLconf, plus the floor route when ``BENCH_FLOOR=1``.

The floor route sits under ``/api/v1/`` in front of the project's routes (the project's
``^api/`` catch-all would answer 404 otherwise), so it passes the same middleware, the same
DRF authentication (X-API-Key), permission (threatmap:read) and per-key throttle.
"""

import os

from django.urls import path

from masterbus.urls import handler404, handler500
from masterbus.urls import urlpatterns as project_urlpatterns

from .views import FloorView

__all__ = ["handler404", "handler500", "urlpatterns"]

urlpatterns = list(project_urlpatterns)
if os.environ.get("BENCH_FLOOR") == "1":
    urlpatterns.insert(0, path("api/v1/bench-floor/<int:size>", FloorView.as_view()))
