from django.apps import AppConfig


class VoltmetricsConfig(AppConfig):
    name = "voltmetrics"
    verbose_name = "Risk engine and VoltMetrics"

    def ready(self):
        # Registers the signals that keep published model versions immutable.
        from . import versions  # noqa: F401
