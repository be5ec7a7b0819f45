from django.apps import AppConfig


class MasterbusConfig(AppConfig):
    name = "masterbus"

    def ready(self):
        from masterbus.api.tokens import connect_signals

        connect_signals()
