from django.apps import AppConfig


class VoltmetricsConfig(AppConfig):
    name = "voltmetrics"
    verbose_name = "Risk engine and VoltMetrics"
