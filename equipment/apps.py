from django.apps import AppConfig


class EquipmentConfig(AppConfig):
    name = "equipment"
    verbose_name = "Equipment, maintenance and mappings"

    def ready(self):
        from .retention import register as register_pruners

        register_pruners()
