from django.apps import AppConfig


class ConsumersConfig(AppConfig):
    name = "consumers"
    verbose_name = "Consumers: portfolios, events and webhooks"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        from . import events

        events.connect()  # events are written in the transaction of the change they record
