from django.urls import re_path

from .webhook import VoltMetricsWebhookView

urlpatterns = [
    re_path(r"^voltmetrics/?$", VoltMetricsWebhookView.as_view(), name="voltmetrics-webhook"),
]
