"""Garbage-collector settings for the long-running coordinator process.

The dispatcher creates and drops many short-lived ORM objects and payloads per message. With
CPython's default thresholds the collector runs every 700 allocations and its full passes walk
every object the process ever imported (SQLAlchemy, pydantic, OR-Tools): measured on the
dispatch benchmark, a third of the dispatcher's CPU. Freezing what exists after start-up takes
those objects out of every later pass, and a larger first threshold makes passes rarer; cycles
are still collected.
"""

from __future__ import annotations

import gc

# allocations between young-generation passes (CPython's default is 700)
YOUNG_THRESHOLD = 20_000


def settle_after_startup() -> None:
    """Collect once, move every surviving object out of the collector's view, raise the threshold."""
    gc.collect()
    gc.freeze()
    _, middle, old = gc.get_threshold()
    gc.set_threshold(YOUNG_THRESHOLD, middle, old)
