from django.apps import AppConfig


class ConsumersConfig(AppConfig):
    name = "consumers"
    verbose_name = "Consumers: portfolios, events and webhooks"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        from masterbus.metrics.application import register_provider as register_metrics_provider

        from . import events
        from .webhooks import tasks  # noqa: F401  (the delivery tasks, for the workers)
        from .webhooks.metrics import webhook_samples
        from .webhooks.retention import register as register_pruners

        events.connect()  # events are written in the transaction of the change they record
        register_metrics_provider("webhooks", webhook_samples)
        register_pruners()
