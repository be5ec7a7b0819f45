"""Links from the dashboard to the admin lists behind its figures: only to pages the user
may open (a staff member without the view permission of a model gets the figure, no link)."""

from __future__ import annotations

from django.db.models import Model
from django.urls import reverse
from django.utils.http import urlencode


class Links:
    def __init__(self, user=None):
        self.user = user

    def allowed(self, model: type[Model]) -> bool:
        if self.user is None:
            return True
        opts = model._meta
        return self.user.has_perm(f"{opts.app_label}.view_{opts.model_name}") or (
            self.user.has_perm(f"{opts.app_label}.change_{opts.model_name}")
        )

    def changelist(self, model: type[Model], **query) -> str:
        """The model's admin list, filtered by ``query`` (admin lookups: ``source__exact``,
        a list filter's parameter, …); "" when the user may not see it."""
        if not self.allowed(model):
            return ""
        opts = model._meta
        url = reverse(f"admin:{opts.app_label}_{opts.model_name}_changelist")
        return f"{url}?{urlencode(query)}" if query else url

    def change(self, model: type[Model], pk) -> str:
        if not self.allowed(model):
            return ""
        opts = model._meta
        return reverse(f"admin:{opts.app_label}_{opts.model_name}_change", args=[pk])

    def named(self, model: type[Model], name: str, **query) -> str:
        """Another admin view of ``model``'s admin, by URL name."""
        if not self.allowed(model):
            return ""
        url = reverse(f"admin:{name}")
        return f"{url}?{urlencode(query)}" if query else url
