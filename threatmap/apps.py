from django.apps import AppConfig


class ThreatmapConfig(AppConfig):
    name = "threatmap"
    verbose_name = "ThreatMap API"

    def ready(self):
        from . import signals

        signals.connect()  # payload caches follow the announced changes

        # One OpenAPI component per choice set of the read API (drf-spectacular names enums
        # by field name and warns — failing `check --deploy` — when several fields share a
        # set or one name has several). Merged here so the API's names live beside its
        # serializers; explicit entries in settings win.
        from django.conf import settings

        from .serializers import ENUM_NAME_OVERRIDES

        spectacular = getattr(settings, "SPECTACULAR_SETTINGS", None)
        if isinstance(spectacular, dict):
            overrides = spectacular.setdefault("ENUM_NAME_OVERRIDES", {})
            for name, choices in ENUM_NAME_OVERRIDES.items():
                overrides.setdefault(name, choices)
