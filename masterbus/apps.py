from django.apps import AppConfig


class MasterbusConfig(AppConfig):
    name = "masterbus"

    def ready(self):
        from masterbus.api.tokens import connect_signals

        # Task metrics wherever tasks run (worker children, eager calls in this process).
        from masterbus.metrics import celery_signals  # noqa: F401
        from masterbus.metrics.application import register_provider
        from masterbus.metrics.broker import queue_lengths
        from masterbus.pruners import register as register_pruners

        connect_signals()
        register_provider("queues", queue_lengths)
        register_pruners()
