"""An emulator process must not stall its own clock: what it keeps only ever grows.

An emulator keeps every call, message and keyboard of a run, so Python's cyclic collector
walks an ever larger heap on each full pass: 23 ms, then 45 ms, 2.5 minutes into a run beside
``gaung serve``, and longer on an 8,000-person broadcast. Requests that arrived meanwhile
were then read and stamped together, 1 ms apart after an 84-ms gap, and the sliding-window
limiter answered 429 to sends that had left their sender on time. Telegram's servers have no
such pause of their own to count against a bot, so the emulator moves what it holds out of the
collector's reach (``gc.freeze``) once a second: a full pass then walks a second's worth of
objects. Cycles that became garbage after surviving to the oldest generation stay allocated
until the process ends; an emulator lives for one run.
"""

from __future__ import annotations

import gc
import threading
import time

EVERY = 1.0  # seconds between two freezes


def keep_collections_short(every: float = EVERY) -> threading.Thread:
    """Freeze what the process holds, now and every ``every`` s, from a daemon thread."""

    def freeze() -> None:
        while True:
            gc.freeze()
            time.sleep(every)

    thread = threading.Thread(target=freeze, name="gc-freeze", daemon=True)
    thread.start()
    return thread
