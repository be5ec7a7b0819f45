from django.apps import AppConfig
from django.contrib.admin import apps as admin_apps


class ConsoleConfig(AppConfig):
    """The console's own templates and static files."""

    name = "console"
    verbose_name = "Staff console"


class ConsoleAdminConfig(admin_apps.AdminConfig):
    """``django.contrib.admin`` with the console's site as the default one: installed in its
    place (INSTALLED_APPS), so every ``admin.register`` and ``admin.site`` lands on
    :class:`console.sites.ConsoleAdminSite`."""

    default = False  # "console" alone in INSTALLED_APPS means ConsoleConfig
    default_site = "console.sites.ConsoleAdminSite"
