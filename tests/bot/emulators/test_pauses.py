"""The emulator's own pauses: a full collection walks what came since the last freeze only."""

from __future__ import annotations

import subprocess
import sys

# In a process of its own: freezing is for the whole process, and a test process must not.
SCRIPT = """
import gc, time
from bot.emulators.pauses import keep_collections_short

held = [[n] for n in range(1_000_000)]  # a long run's calls and messages: all tracked

def full():
    began = time.perf_counter()
    gc.collect()
    return time.perf_counter() - began

before = full()
keep_collections_short(every=0.05)
time.sleep(0.3)
print(before, full())
"""


def test_a_full_collection_no_longer_walks_everything_the_emulator_holds() -> None:
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT], capture_output=True, text=True, timeout=60, check=True
    )
    before, after = (float(word) for word in done.stdout.split())
    assert after < before / 5, (before, after)
