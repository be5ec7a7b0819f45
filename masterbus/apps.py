from django.apps import AppConfig


class MasterbusConfig(AppConfig):
    name = "masterbus"

    def ready(self):
        from masterbus.api.tokens import connect_signals
        from masterbus.pruners import register as register_pruners

        connect_signals()
        register_pruners()
