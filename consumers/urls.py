"""Consumers' API routes (under /api/v1/)."""

from django.urls import re_path

from . import views

urlpatterns = [
    re_path(r"^events/?$", views.EventFeedView.as_view(), name="consumers-events"),
]
