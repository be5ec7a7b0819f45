"""Log lines: plain or JSON (``LOG_FORMAT``), each with its request id, no secret in any.

- :class:`LogContextFilter` gives every record ``request_id`` (the request's, or the task's,
  see below), and ``task_id`` / ``task`` while a Celery task runs.
- :class:`~masterbus.redact.RedactSecretsFilter` masks secrets (masterbus/redact.py).
- :class:`PlainFormatter` writes today's one-line text; :class:`JsonFormatter` one JSON
  object per line (python-json-logger): ``ts``, ``level``, ``logger``, ``message``,
  ``request_id`` and, where they apply, the :data:`CONTEXT_FIELDS` a call site passes with
  ``extra={...}`` (``sync_run_id``, ``job_id``, ``facility_id``, ``duration_ms``, …) and
  ``exc`` (the traceback).

Request ids through Celery: a task published while a request (or another task) runs carries
the current id in its ``request_id`` message header (``before_task_publish``); the task sets
it again while it runs (``task_prerun``, undone by ``task_postrun``). Eagerly run tasks (no
message) keep the id of the code that called them. A task nobody asked for in a request (beat,
a management command) logs its own task id as its request id, and hands that on to the tasks
it queues. :func:`connect_celery` wires this and makes the worker and beat log through the
``LOGGING`` setting rather than Celery's own handlers.
"""

from __future__ import annotations

import contextvars
import logging
import logging.config
from datetime import UTC, datetime

from pythonjsonlogger.json import JsonFormatter as _BaseJsonFormatter

from .api.request_id import (
    NO_REQUEST_ID,
    bind_request_id,
    get_request_id,
    is_sane_request_id,
    reset_request_id,
)
from .redact import RedactSecretsFilter, redact

__all__ = [
    "CONTEXT_FIELDS",
    "FORMATS",
    "JsonFormatter",
    "LogContextFilter",
    "PlainFormatter",
    "RedactSecretsFilter",
    "connect_celery",
    "logging_config",
]

FORMATS = ("plain", "json")
HEADER = "request_id"
# Written by the JSON format when a record has them (set by the context filter, or passed
# by the call site with extra={...}); nothing else a record carries is written.
CONTEXT_FIELDS = (
    "task_id",
    "task",
    "sync_run_id",
    "job_id",
    "facility_id",
    "subscription_id",
    "duration_ms",
    "status_code",
)
PLAIN_FORMAT = "%(asctime)s %(levelname)s [%(request_id)s] %(name)s: %(message)s"

_task_id: contextvars.ContextVar[str | None] = contextvars.ContextVar("task_id", default=None)
_task: contextvars.ContextVar[str | None] = contextvars.ContextVar("task", default=None)
_TOKENS = "_masterbus_log_tokens"


class LogContextFilter(logging.Filter):
    """``request_id`` on every record (``"-"`` outside requests and tasks), plus ``task_id``
    and ``task`` while a task runs (unless the call site set them)."""

    def filter(self, record: logging.LogRecord) -> bool:
        rid = get_request_id()
        if rid == NO_REQUEST_ID:
            # django.request logs 4xx/5xx after the middleware chain has returned (the
            # context is reset by then); it passes the request along, which has the id.
            rid = getattr(getattr(record, "request", None), "request_id", NO_REQUEST_ID)
        record.request_id = rid
        task_id = _task_id.get()
        if task_id is not None:
            if getattr(record, "task_id", None) is None:
                record.task_id = task_id
            if getattr(record, "task", None) is None:
                record.task = _task.get()
        return True


class PlainFormatter(logging.Formatter):
    """One line of text: ``<time> <LEVEL> [<request id>] <logger>: <message>``."""

    def __init__(self, fmt: str | None = None, datefmt: str | None = None, **kwargs):
        super().__init__(fmt or PLAIN_FORMAT, datefmt, **kwargs)

    def format(self, record: logging.LogRecord) -> str:
        if not hasattr(record, "request_id"):
            record.request_id = NO_REQUEST_ID
        return redact(super().format(record))


def iso_utc(created: float) -> str:
    """``2026-12-07T14:03:05.123Z`` for a record's ``created`` time."""
    moment = datetime.fromtimestamp(created, tz=UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


class JsonFormatter(_BaseJsonFormatter):
    """One JSON object per line with MasterBus's keys only (python-json-logger does the
    serialising: dates, decimals and other objects become strings)."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("json_ensure_ascii", False)
        super().__init__(*args, **kwargs)

    def add_fields(self, log_data: dict, record: logging.LogRecord, message_dict: dict) -> None:
        log_data["ts"] = iso_utc(record.created)
        log_data["level"] = record.levelname
        log_data["logger"] = record.name
        log_data["message"] = (
            record.getMessage() if isinstance(record.msg, dict) else record.message
        )
        rid = getattr(record, "request_id", NO_REQUEST_ID)
        log_data["request_id"] = None if rid == NO_REQUEST_ID else rid
        for field in CONTEXT_FIELDS:
            value = getattr(record, field, None)
            if value is not None:
                log_data[field] = value
        # Formatted (and masked) by the redaction filter; else by python-json-logger.
        exc = record.exc_text or message_dict.get("exc_info")
        if record.stack_info:
            stack = self.formatStack(record.stack_info)
            exc = f"{exc}\n{stack}" if exc else stack
        if exc:
            log_data["exc"] = exc

    def serialize_log_record(self, log_data: dict) -> str:
        return redact(super().serialize_log_record(log_data))


def logging_config(log_format: str, level: str) -> dict:
    """The ``LOGGING`` dict: one stderr handler in ``log_format``, at ``level``."""
    if log_format not in FORMATS:
        from django.core.exceptions import ImproperlyConfigured

        raise ImproperlyConfigured(
            f"LOG_FORMAT must be one of {', '.join(FORMATS)}; got {log_format!r}"
        )
    formatter = PlainFormatter if log_format == "plain" else JsonFormatter
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {
            "context": {"()": LogContextFilter},
            "redact": {"()": RedactSecretsFilter},
        },
        "formatters": {"main": {"()": formatter}},
        "handlers": {
            "console": {
                "class": "logging.StreamHandler",
                "stream": "ext://sys.stderr",
                "formatter": "main",
                "filters": ["context", "redact"],
            }
        },
        "root": {"handlers": ["console"], "level": level},
        "loggers": {"django.db.backends": {"level": "WARNING"}},
    }


# --- Celery -------------------------------------------------------------------------------


def _on_publish(sender=None, headers=None, **kwargs) -> None:
    """before_task_publish: the current request's (or task's) id rides along."""
    if headers is None or headers.get(HEADER):
        return
    rid = get_request_id()
    if rid != NO_REQUEST_ID:
        headers[HEADER] = rid


def _header(request) -> str | None:
    rid = getattr(request, HEADER, None) or (getattr(request, "headers", None) or {}).get(HEADER)
    return rid if is_sane_request_id(rid) else None


def _on_prerun(sender=None, task_id=None, task=None, **kwargs) -> None:
    """task_prerun: the id of the request that queued the task (from its header), else the
    caller's when run eagerly, else the task's own id."""
    if task is None:
        return
    request = task.request
    current = get_request_id()
    rid = _header(request) or (current if current != NO_REQUEST_ID else None) or str(task_id)
    tokens = (bind_request_id(rid), _task_id.set(str(task_id)), _task.set(task.name))
    setattr(request, _TOKENS, tokens)


def _on_postrun(sender=None, task_id=None, task=None, **kwargs) -> None:
    """task_postrun: back to what was current before the task (a worker: nothing)."""
    tokens = getattr(getattr(task, "request", None), _TOKENS, None)
    if not tokens:
        return
    setattr(task.request, _TOKENS, None)
    rid_token, task_id_token, task_token = tokens
    try:
        _task.reset(task_token)
        _task_id.reset(task_id_token)
        reset_request_id(rid_token)
    except ValueError:  # set in another context (should not happen): start clean
        _task.set(None)
        _task_id.set(None)
        bind_request_id(NO_REQUEST_ID)


def _on_setup_logging(**kwargs) -> None:
    """setup_logging: the worker and beat log through LOGGING, like the web processes
    (its receiver being connected keeps Celery from installing its own handlers; the
    ``-l`` option is superseded by LOG_LEVEL)."""
    from django.conf import settings

    logging.config.dictConfig(settings.LOGGING)


def connect_celery() -> None:
    from celery import signals

    signals.before_task_publish.connect(_on_publish, dispatch_uid="masterbus.logs.publish")
    signals.task_prerun.connect(_on_prerun, dispatch_uid="masterbus.logs.prerun")
    signals.task_postrun.connect(_on_postrun, dispatch_uid="masterbus.logs.postrun")
    signals.setup_logging.connect(_on_setup_logging, dispatch_uid="masterbus.logs.setup")
