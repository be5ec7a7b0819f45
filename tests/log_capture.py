"""Capture what MasterBus logs, as its own handler writes it, in both formats.

``captured_logs()`` adds to the root logger one handler per format, each with the filters and
formatter the ``LOGGING`` setting gives the console handler (masterbus/logs.py), and, with
``every_logger=True``, turns root and every logger that exists (Django's, Celery's,
urllib3's, ours) to DEBUG for the block. Levels and handlers are restored afterwards.
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
from collections.abc import Iterator

from masterbus.logs import JsonFormatter, LogContextFilter, PlainFormatter, RedactSecretsFilter

FORMATTERS = {"plain": PlainFormatter, "json": JsonFormatter}


class Captured:
    def __init__(self) -> None:
        self.streams = {fmt: io.StringIO() for fmt in FORMATTERS}

    def text(self, fmt: str) -> str:
        return self.streams[fmt].getvalue()

    def json_lines(self) -> list[dict]:
        """Every JSON line parsed (a line that does not parse fails the caller)."""
        return [json.loads(line) for line in self.text("json").splitlines()]


def handler_for(fmt: str, stream) -> logging.Handler:
    handler = logging.StreamHandler(stream)
    handler.setFormatter(FORMATTERS[fmt]())
    handler.addFilter(LogContextFilter())
    handler.addFilter(RedactSecretsFilter())
    return handler


@contextlib.contextmanager
def captured_logs(*, level: int = logging.DEBUG, every_logger: bool = False) -> Iterator[Captured]:
    captured = Captured()
    root = logging.getLogger()
    handlers = [handler_for(fmt, stream) for fmt, stream in captured.streams.items()]
    loggers = [root]
    if every_logger:
        loggers += [
            lg for lg in logging.root.manager.loggerDict.values() if isinstance(lg, logging.Logger)
        ]
    saved = [(lg, lg.level, lg.disabled) for lg in loggers]
    for lg in loggers:
        lg.setLevel(level)
        lg.disabled = False
    for handler in handlers:
        root.addHandler(handler)
    try:
        yield captured
    finally:
        for handler in handlers:
            root.removeHandler(handler)
        for lg, lvl, disabled in saved:
            lg.setLevel(lvl)
            lg.disabled = disabled
