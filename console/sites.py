"""The admin site of MasterBus: Django's, with the operations dashboard on its index page
(above the list of apps and models)."""

from django.contrib import admin

from .dashboard import dashboard


class ConsoleAdminSite(admin.AdminSite):
    site_header = "MasterBus administration"
    site_title = "MasterBus administration"
    index_title = "MasterBus"

    def index(self, request, extra_context=None):
        context = {"dashboard": dashboard(request.user), **(extra_context or {})}
        return super().index(request, context)
