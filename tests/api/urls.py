"""The project's URLs plus a few test-only views (used with @pytest.mark.urls)."""

import logging

from django.db import connection
from django.urls import path
from rest_framework.response import Response
from rest_framework.views import APIView

from masterbus.api.photo_urls import SignedUrlOrReadScope
from masterbus.urls import urlpatterns as project_urlpatterns

log = logging.getLogger("tests.api.views")


class ReadView(APIView):
    """A GET endpoint with the project's default authentication and permission."""

    def get(self, request):
        return Response({"ok": True, "principal": str(request.user)})


class BoomView(APIView):
    def get(self, request):
        with connection.cursor() as cur:
            cur.execute("SELECT 1")
        raise RuntimeError("SELECT password FROM secret_table; Traceback-looking text")


def django_boom(request):
    raise RuntimeError("SELECT password FROM secret_table")


class LogView(APIView):
    def get(self, request):
        log.warning("hello from inside the request")
        return Response({"ok": True})


class PhotoView(APIView):
    permission_classes = [SignedUrlOrReadScope]

    def get(self, request, photo_id):
        return Response({"photo": photo_id})


urlpatterns = [
    path("api/v1/test/read", ReadView.as_view()),
    path("api/v1/test/boom", BoomView.as_view()),
    path("api/v1/test/django-boom", django_boom),
    path("api/v1/test/log", LogView.as_view()),
    path("api/v1/test/photos/<str:photo_id>/thumbnail", PhotoView.as_view()),
    *project_urlpatterns,
]

handler404 = "masterbus.api.errors.handler404"
handler500 = "masterbus.api.errors.handler500"
