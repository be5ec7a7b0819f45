"""The cyclic garbage collector, paused for batch jobs that build many objects."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def gc_paused() -> Iterator[None]:
    """Pause the cyclic collector for the duration (it is restored, and collects, after).

    A recompute builds hundreds of thousands of short-lived objects (engine inputs, results,
    rows) while the batches it holds stay alive; the collector then keeps re-scanning those
    live objects. Reference counting still frees everything as usual: only cycles wait.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()
