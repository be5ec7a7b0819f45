from django.apps import AppConfig


class VoltmetricsConfig(AppConfig):
    name = "voltmetrics"
    verbose_name = "Risk engine and VoltMetrics"

    def ready(self):
        from masterbus.changes import records_changed
        from masterbus.health import register_readiness_check
        from masterbus.metrics.application import register_provider as register_metrics_provider

        # Registers the signals that keep published model versions immutable.
        from . import versions  # noqa: F401
        from .health import voltmetrics_check
        from .integration import tasks  # noqa: F401  (the VoltMetrics tasks, for the workers)
        from .metrics import voltmetrics_samples
        from .retention import register as register_pruners
        from .tasks import recompute_soon

        # Figures follow mirrored records shortly after a change commits (debounced).
        records_changed.connect(
            lambda sender, **kwargs: recompute_soon(),
            dispatch_uid="voltmetrics.recompute",
            weak=False,
        )
        register_readiness_check("voltmetrics", voltmetrics_check)
        register_metrics_provider("voltmetrics", voltmetrics_samples)
        register_pruners()
