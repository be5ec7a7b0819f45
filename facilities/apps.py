from django.apps import AppConfig


class FacilitiesConfig(AppConfig):
    name = "facilities"
    verbose_name = "Facilities and Condoit sync"

    def ready(self):
        from .retention import register as register_pruners

        register_pruners()
