"""The admin's History page for the models that keep an audit history (masterbus/audit.py).

:class:`HistoryAdmin` is simple-history's ``SimpleHistoryAdmin`` made read-only and bounded:

- the History button of a change form lists the object's history rows, newest first, 50 a
  page: when, created / changed / deleted, by whom, why, and what changed (each field's old
  and new value; a created row lists the values it was created with). Fields excluded from the
  history (secrets, digests, counters the deliveries move) are neither stored nor shown;
- no revert: simple-history's form for an old version (and its POST, which saves it) is not
  routed. A revert would bypass the services (un-revoke a key, undo a rotation);
- a page runs a fixed number of queries whatever its rows: the users and the related objects
  come with the rows (``select_related``), the differences are computed in Python, and the
  row before the page's oldest is read once;
- a change form's save is one history row (``audit.merged``), related snapshots included.
"""

from __future__ import annotations

import datetime
import json

from django.contrib.auth import get_user_model
from django.db import models, router, transaction
from django.utils import timezone
from django.utils.text import Truncator
from simple_history.admin import SimpleHistoryAdmin

from . import audit

VALUE_MAX_CHARS = 200


class HistoryAdmin(SimpleHistoryAdmin):
    object_history_template = "admin/masterbus/history/object_history.html"
    object_history_list_template = "admin/masterbus/history/object_history_list.html"
    history_list_per_page = 50

    def get_urls(self):
        revert = f"{self.opts.app_label}_{self.opts.model_name}_simple_history"
        return [u for u in super().get_urls() if getattr(u, "name", None) != revert]

    def revert_disabled(self, request, obj=None):
        return True

    # --- saving: one history row per form save ---------------------------------------------------

    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        if request.method != "POST":
            return super().changeform_view(request, object_id, form_url, extra_context)
        with transaction.atomic(using=router.db_for_write(self.model)):
            with audit.merged(self.model):
                return super().changeform_view(request, object_id, form_url, extra_context)

    def save_related(self, request, form, formsets, change):
        super().save_related(request, form, formsets, change)
        if form.instance.pk is not None:
            audit.related_saved(form.instance)

    # --- the History page ----------------------------------------------------------------------

    def history_view(self, request, object_id, extra_context=None):
        user_opts = get_user_model()._meta
        context = {
            "admin_user_view": (
                f"{self.admin_site.name}:{user_opts.app_label}_{user_opts.model_name}_change"
            ),
            **(extra_context or {}),
        }
        return super().history_view(request, object_id, extra_context=context)

    def get_history_queryset(self, request, history_manager, pk_name, object_id):
        # The users and the related objects with the rows, in the page's one query.
        # (simple-history's own select_related() with no relation to name would follow only
        # the non-null ones, leaving each row's user to a query of its own.)
        relations = [f.name for f in history_manager.model.tracked_fields if f.is_relation]
        return history_manager.filter(**{pk_name: object_id}).select_related(
            "history_user", *relations
        )

    def set_history_delta_changes(self, request, historical_records, foreign_keys_are_objs=True):
        rows = list(historical_records)
        if not rows:
            return
        older = None
        paginator = getattr(historical_records, "paginator", None)
        if paginator is not None and historical_records.has_next():
            # The row just before the page's oldest: one query, for that row's changes.
            end = historical_records.end_index()
            older = next(iter(paginator.object_list[end : end + 1]), None)
        related = list(audit._history_of(self.model).related)
        for row, before in zip(rows, [*rows[1:], older], strict=True):
            row.history_delta_changes = history_changes(row, before, related)


# --- what changed ---------------------------------------------------------------------------------


def _tracked(row) -> list[models.Field]:
    return [f for f in row.tracked_fields if not f.primary_key]


def show(row, field: models.Field) -> str:
    """A history row's value of ``field``, for people (no query: relations come with the
    row)."""
    value = getattr(row, field.attname)
    if value is None or value == "":
        return "—"
    if field.is_relation:
        try:
            target = getattr(row, field.name)
        except Exception:  # noqa: BLE001 - the related row is gone
            target = None
        return str(target) if target is not None else f"#{value} (deleted)"
    if field.flatchoices:
        return str(dict(field.flatchoices).get(value, value))
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, datetime.datetime):
        return timezone.localtime(value).strftime("%Y-%m-%d %H:%M:%S %Z")
    if isinstance(value, dict | list):
        return Truncator(json.dumps(value, sort_keys=True, default=str)).chars(VALUE_MAX_CHARS)
    return Truncator(str(value)).chars(VALUE_MAX_CHARS)


def _label(row, name: str) -> str:
    try:
        return str(row._meta.get_field(name).verbose_name)
    except Exception:  # noqa: BLE001
        return name.replace("_", " ")


def _list_change(old: list, new: list) -> str:
    old_set, new_set = set(map(str, old or [])), set(map(str, new or []))
    parts = [f"+{v}" for v in sorted(new_set - old_set)]
    parts += [f"−{v}" for v in sorted(old_set - new_set)]
    return Truncator(", ".join(parts)).chars(VALUE_MAX_CHARS * 5)


def history_changes(row, before, related: list[str]) -> list[dict]:
    """``[{"field", "old", "new"}]``: what ``row`` changed since ``before`` (the row before it;
    None for the first). A created row lists the values it was created with; a deleted row
    lists nothing (its values are those of the row before)."""
    if row.history_type == "-":
        return []
    changes = []
    for field in _tracked(row):
        new = getattr(row, field.attname)
        if before is None or row.history_type == "+":
            if new in (None, "", [], {}):
                continue
            changes.append({"field": str(field.verbose_name), "old": "", "new": show(row, field)})
        elif getattr(before, field.attname) != new:
            changes.append(
                {
                    "field": str(field.verbose_name),
                    "old": show(before, field),
                    "new": show(row, field),
                }
            )
    for name in related:
        new = getattr(row, name) or []
        old = [] if before is None or row.history_type == "+" else (getattr(before, name) or [])
        if sorted(map(str, new)) != sorted(map(str, old)):
            changes.append(
                {"field": _label(row, name), "old": "", "new": _list_change(old, new), "set": True}
            )
    return changes
