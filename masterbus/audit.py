"""Audit history: who changed what, when and why (django-simple-history).

The models staff curate (overrides, mappings, type profiles, API keys, model versions,
portfolios, subscriptions) declare ``history = AuditedHistory(...)``: every save and delete
writes a row to the model's history table (``Historical<Model>``) in the same transaction,
with the fields as they are after the change, the user and a reason.

**Who and why.** In this order:

1. :func:`audited` — a context manager naming the reason and, optionally, the user, used by
   management commands (:class:`AuditedCommand`: ``"manage.py create_api_key (by OS user
   root)"`` and the user of ``--by``) and by admin buttons and actions;
2. the admin request being served (``simple_history.middleware.HistoryRequestMiddleware``):
   its user, and a reason naming the admin page (``"admin: API key change form"``,
   ``"admin action: Revoke selected keys"``);
3. the reason the writing code gives (:func:`record`'s ``reason``: ``"paused by the delivery
   engine: …"`` from a Celery task).

**Writes that bypass save().** ``QuerySet.update()`` and ``bulk_update()`` send no signals: the
code that uses them records the rows it changed with :func:`record` (one row, with the related
snapshot) or :func:`record_many` / :func:`bulk_update` (one INSERT for many).
``QuerySet.delete()`` sends ``post_delete`` for each row once a receiver exists, so deletes
are recorded by simple-history itself.

**Related snapshots.** A model may list related things to snapshot on each history row
(``AuditedHistory(related={"picked_facilities": fn})``: a JSON list per name, e.g. a
portfolio's staff-picked facilities). They are written after the row itself (an admin form
saves the row, then its many-to-many fields and inlines), so :func:`merged` gathers the writes
of a block into one history row per object, written at the end of the block with the related
snapshot as it is then; :func:`related_saved` records a change of the related things alone.
"""

from __future__ import annotations

import getpass
import os
from collections.abc import Callable, Iterable
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from django.db import models
from django.utils import timezone
from simple_history.models import HistoricalRecords
from simple_history.signals import pre_create_historical_record
from simple_history.utils import bulk_update_with_history, get_history_manager_for_model

REASON_MAX_LENGTH = 500


# --- who and why --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Actor:
    reason: str
    user: object | None = None


_actor: ContextVar[Actor | None] = ContextVar("masterbus_audit_actor", default=None)


@contextmanager
def audited(reason: str, *, user=None):
    """Every history row written inside the block gets this reason (and this user, if given:
    otherwise the request's, if any). An inner block wins over an outer one."""
    token = _actor.set(Actor(reason[:REASON_MAX_LENGTH], user))
    try:
        yield
    finally:
        _actor.reset(token)


def _request():
    return getattr(HistoricalRecords.context, "request", None)


def current_user():
    """The user history rows written now are attributed to, or None."""
    actor = _actor.get()
    if actor is not None:
        return actor.user
    user = getattr(_request(), "user", None)
    if user is not None and user.is_authenticated:
        return user
    return None


def _admin_reason(request) -> str | None:
    """A reason naming the admin page of ``request``; None outside the admin's own pages."""
    match = getattr(request, "resolver_match", None)
    model_admin = getattr(getattr(match, "func", None), "model_admin", None)
    if match is None or model_admin is None:
        return None
    name = match.url_name or ""
    opts = model_admin.opts
    if name.endswith("_changelist"):
        action = request.POST.get("action") if request.method == "POST" else None
        if action:
            found = model_admin.get_actions(request).get(action)
            described = found[2] if found else action
            label = str(described) % {"verbose_name_plural": opts.verbose_name_plural}
            return f"admin action: {label}"
        return f"admin: {opts.verbose_name} list edit"
    for suffix, what in (("_add", "add form"), ("_change", "change form"), ("_delete", "delete")):
        if name.endswith(suffix):
            return f"admin: {opts.verbose_name} {what}"
    return None


def current_reason(fallback: str = "") -> str | None:
    """The reason history rows written now get (see the module doc for the order)."""
    actor = _actor.get()
    if actor is not None:
        return actor.reason
    request = _request()
    if request is not None:
        reason = _admin_reason(request)
        if reason:
            return reason
    return fallback[:REASON_MAX_LENGTH] or None


def _get_user(instance=None, request=None, **kwargs):
    """``HistoricalRecords(get_user=…)``: the audit context's user first."""
    return current_user()


def os_user() -> str:
    try:
        return getpass.getuser()
    except Exception:  # noqa: BLE001 - no login name (a container without a passwd entry)
        return f"uid {os.getuid()}"


def command_reason(name: str) -> str:
    return f"manage.py {name} (by OS user {os_user()})"


def user_named(username: str):
    """The active user called ``username``; ValueError with a one-line reason otherwise."""
    User = get_user_model()
    user = User._default_manager.filter(**{User.USERNAME_FIELD: username}).first()
    if user is None:
        raise ValueError(f"--by {username!r}: no such user")
    if not user.is_active:
        raise ValueError(f"--by {username!r}: that user is deactivated")
    return user


class AuditedCommand(BaseCommand):
    """A management command whose writes are recorded in the audit history with the reason
    ``manage.py NAME (by OS user …)`` and, when ``audit_by`` is set, an option ``--by
    USERNAME`` naming the user they are recorded as made by (also ``self.audit_user`` in
    ``handle()``, e.g. as the creator of what the command makes; checked before anything is
    written)."""

    audit_by = False
    audit_by_help = "Record the changes in the audit history as made by this (active) user."

    def create_parser(self, prog_name, subcommand, **kwargs):
        parser = super().create_parser(prog_name, subcommand, **kwargs)
        if self.audit_by:
            parser.add_argument("--by", metavar="USERNAME", help=self.audit_by_help)
        return parser

    def execute(self, *args, **options):
        by = options.pop("by", None)
        self.audit_user = None
        if by:
            try:
                self.audit_user = user_named(by)
            except ValueError as exc:
                raise CommandError(f"{exc}; nothing done") from None
        name = self.__module__.rsplit(".", 1)[-1]
        with audited(command_reason(name), user=self.audit_user):
            return super().execute(*args, **options)


# --- the history tables -------------------------------------------------------------------------


class AuditRecord(models.Model):
    """Fields every history row of MasterBus carries besides simple-history's own."""

    # The user's name as it was: kept when the user is deleted later (history_user is then
    # emptied).
    history_username = models.CharField(max_length=150, blank=True, default="")

    class Meta:
        abstract = True


_registry: dict[type[models.Model], AuditedHistory] = {}


class AuditedHistory(HistoricalRecords):
    """``HistoricalRecords`` taking its user and reason from the audit context, with the user's
    name kept on each row and optional related snapshots (``related={name: fn(instance)}``,
    each a JSON list on the row)."""

    def __init__(self, *, related: dict[str, Callable] | None = None, **kwargs):
        self.related = dict(related or {})
        kwargs.setdefault("get_user", _get_user)
        kwargs.setdefault("bases", (AuditRecord,))
        kwargs.setdefault("history_id_field", models.BigAutoField(primary_key=True))
        super().__init__(**kwargs)

    def get_extra_fields(self, model, fields):
        extra = super().get_extra_fields(model, fields)
        for name in self.related:
            extra[name] = models.JSONField(default=list, blank=True)
        return extra

    def finalize(self, sender, **kwargs):
        super().finalize(sender, **kwargs)
        if sender is self.cls:
            _registry[sender] = self

    def get_change_reason_for_object(self, instance, history_type, using):
        explicit = super().get_change_reason_for_object(instance, history_type, using)
        return explicit or current_reason(getattr(instance, "_audit_reason", ""))

    def post_save(self, instance, created, using=None, **kwargs):
        if hasattr(instance, "skip_history_when_saving"):
            return
        if _stash(instance, "+" if created else "~"):
            return
        super().post_save(instance, created, using=using, **kwargs)

    def post_delete(self, instance, using=None, **kwargs):
        _unstash(instance)
        super().post_delete(instance, using=using, **kwargs)

    def snapshot(self, instance) -> dict[str, list]:
        return {name: list(fn(instance)) for name, fn in self.related.items()}


def _fill(sender, instance, history_instance, history_user=None, **kwargs):
    """Before a history row is saved: the user's name and the related snapshots."""
    if not isinstance(history_instance, AuditRecord):
        return
    history_instance.history_username = history_user.get_username() if history_user else ""
    history = _registry.get(type(instance))
    if history is not None:
        for name, values in history.snapshot(instance).items():
            setattr(history_instance, name, values)


pre_create_historical_record.connect(_fill, dispatch_uid="masterbus.audit.fill")


def _enabled() -> bool:
    return getattr(settings, "SIMPLE_HISTORY_ENABLED", True)


def _history_of(model) -> AuditedHistory:
    try:
        return _registry[model]
    except KeyError:
        raise LookupError(f"{model.__name__} keeps no audit history") from None


@contextmanager
def saving(instance, *, reason: str):
    """Saves of ``instance`` inside the block record ``reason`` when neither the audit context
    nor an admin request gives one."""
    instance._audit_reason = reason
    try:
        yield instance
    finally:
        del instance._audit_reason


def record(instance, *, reason: str = "", history_type: str = "~") -> None:
    """Write one history row for ``instance`` as it is now (after a write that bypassed
    ``save()``; refresh the instance first). ``reason`` is used when neither the audit context
    nor an admin request gives one."""
    if not _enabled() or _stash(instance, history_type):
        return
    history = _history_of(type(instance))
    instance._audit_reason = reason
    try:
        history.create_historical_record(instance, history_type)
    finally:
        del instance._audit_reason


def record_many(model, instances: Iterable, *, reason: str = "") -> int:
    """One history row ("changed") for each of ``instances`` as they are now, in one INSERT
    (models without related snapshots)."""
    instances = list(instances)
    if not instances or not _enabled():
        return 0
    if _history_of(model).related:
        raise ValueError(f"{model.__name__} has related snapshots: record() each instance")
    user = current_user()
    get_history_manager_for_model(model).bulk_history_create(
        instances,
        update=True,
        default_user=user,
        default_change_reason=current_reason(reason),
        custom_historical_attrs={"history_username": user.get_username() if user else ""},
    )
    return len(instances)


def bulk_update(model, instances: Iterable, fields: list[str], *, reason: str = "") -> int:
    """``bulk_update()`` of ``fields`` with one history row per instance."""
    instances = list(instances)
    if not instances:
        return 0
    if not _enabled():
        return model._default_manager.bulk_update(instances, fields, batch_size=500)
    _history_of(model)
    user = current_user()
    return bulk_update_with_history(
        instances,
        model,
        fields,
        batch_size=500,
        default_user=user,
        default_change_reason=current_reason(reason),
        custom_historical_attrs={"history_username": user.get_username() if user else ""},
    )


def related_saved(instance, *, reason: str = "") -> None:
    """The related things ``instance`` snapshots changed: write a history row if they differ
    from its latest row's (inside :func:`merged`, the block's row carries them)."""
    history = _history_of(type(instance))
    if not history.related or not _enabled():
        return
    if _stash(instance, "~", related_only=True):
        return
    latest = getattr(instance, history.manager_name).order_by("-history_date", "-pk").first()
    if latest is not None and all(
        getattr(latest, name) == values for name, values in history.snapshot(instance).items()
    ):
        return
    record(instance, reason=reason)


# --- one row per object for a block of writes -----------------------------------------------------


@dataclass
class _Pending:
    history_type: str = ""  # "+" created, "~" changed, "" only its related things changed


@dataclass
class _Merge:
    models: frozenset
    pending: dict[tuple[type, object], _Pending] = field(default_factory=dict)


_merge: ContextVar[_Merge | None] = ContextVar("masterbus_audit_merge", default=None)


def _stash(instance, history_type: str, *, related_only: bool = False) -> bool:
    """Inside :func:`merged` for this model: note the write, to be recorded at the end."""
    merge = _merge.get()
    if merge is None or type(instance) not in merge.models or instance.pk is None:
        return False
    pending = merge.pending.setdefault((type(instance), instance.pk), _Pending())
    if not related_only and pending.history_type != "+":
        pending.history_type = history_type
    return True


def _unstash(instance) -> None:
    merge = _merge.get()
    if merge is not None:
        merge.pending.pop((type(instance), instance.pk), None)


@contextmanager
def merged(*model_classes):
    """Inside the block, the writes to objects of these models are gathered: at its end each
    object written gets one history row ("created" if it was created in the block), with its
    fields and related snapshot as they are then; an object whose related things alone were
    touched gets a row only if they changed. Nothing is written if the block raises. Nested
    blocks join the outermost one."""
    outer = _merge.get()
    if outer is not None:
        wanted = frozenset(model_classes) - outer.models
        if not wanted:
            yield
            return
        outer.models = outer.models | wanted
        yield
        return
    merge = _Merge(models=frozenset(model_classes))
    token = _merge.set(merge)
    try:
        yield
    finally:
        _merge.reset(token)
    # Reached only when the block did not raise.
    for (model, pk), pending in merge.pending.items():
        instance = model._default_manager.filter(pk=pk).first()
        if instance is None:
            continue
        if pending.history_type:
            record(instance, history_type=pending.history_type)
        else:
            related_saved(instance)


# --- where the history starts ---------------------------------------------------------------------

BASELINE_REASON = "the audit history starts: the values then"


def baseline(app_label: str, *model_names: str, related: dict | None = None):
    """A ``RunPython`` function for the migration creating history tables: one row per object
    already there, with its values then (so the first change shows what it changed), from the
    migration's state. ``related``: ``{model_name: {field: fn(apps, obj) -> list}}``."""

    def run(apps, schema_editor):
        now = timezone.now()
        for name in model_names:
            model = apps.get_model(app_label, name)
            historical = apps.get_model(app_label, f"Historical{name}")
            kept = {f.attname for f in historical._meta.concrete_fields}
            copied = [f.attname for f in model._meta.concrete_fields if f.attname in kept]
            snapshots = (related or {}).get(name, {})
            rows = []
            for obj in model._default_manager.order_by("pk").iterator():
                row = historical(
                    history_date=now,
                    history_type="~",
                    history_change_reason=BASELINE_REASON,
                    **{attname: getattr(obj, attname) for attname in copied},
                )
                for field_name, fn in snapshots.items():
                    setattr(row, field_name, list(fn(apps, obj)))
                rows.append(row)
            historical._default_manager.bulk_create(rows, batch_size=500)

    return run
