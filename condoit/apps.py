from django.apps import AppConfig


class CondoitConfig(AppConfig):
    """Condoit ingestion: the export file, the pull and the pushed events, above both
    mirrors (it writes ``facilities`` and ``equipment``; neither imports it)."""

    default_auto_field = "django.db.models.BigAutoField"
    name = "condoit"
    verbose_name = "Condoit ingestion"

    def ready(self):
        from masterbus.metrics.application import register_provider

        from .metrics import condoit_samples

        register_provider("condoit", condoit_samples)
