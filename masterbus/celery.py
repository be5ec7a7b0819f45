import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "masterbus.settings")

app = Celery("masterbus")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
