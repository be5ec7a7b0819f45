import os

from celery import Celery

from masterbus.logs import connect_celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "masterbus.settings")

app = Celery("masterbus")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

# Request ids through task headers, and the worker's logging from LOGGING (masterbus/logs.py).
connect_celery()
