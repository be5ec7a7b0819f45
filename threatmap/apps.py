from django.apps import AppConfig


class ThreatmapConfig(AppConfig):
    name = "threatmap"
    verbose_name = "ThreatMap API"
