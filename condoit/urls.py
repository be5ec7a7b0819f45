from django.urls import re_path

from . import views

urlpatterns = [
    re_path(r"^events/?$", views.CondoitEventsView.as_view(), name="condoit-events"),
]
