"""An event loop on virtual time, for tests of the pacer that must not race the wall clock.

The loop's clock moves only when every task waits, and then straight to the next timer: a test
of sends spaced 35 ms apart runs in milliseconds and lands on the same moments on any machine,
however loaded. A stall (``VirtualLoop.stall``: the loop blocked, as on a busy machine) is the
only lateness there is, at the moment the test says.
"""

from __future__ import annotations

import asyncio
import selectors
from collections.abc import Coroutine
from typing import Any, TypeVar

T = TypeVar("T")


class _VirtualSelector(selectors.DefaultSelector):
    """Waiting for ``timeout`` s moves the loop's virtual clock on by as much, at once."""

    def __init__(self, loop: VirtualLoop) -> None:
        super().__init__()
        self._loop = loop

    def select(self, timeout: float | None = None) -> list[tuple[selectors.SelectorKey, int]]:
        events = super().select(0)
        if events or timeout == 0:
            return events
        if timeout is None:  # nothing scheduled and nothing to read: it would wait forever
            raise RuntimeError("every task waits for something that never comes")
        self._loop.virtual += timeout
        return []


class VirtualLoop(asyncio.SelectorEventLoop):
    """An event loop whose clock (``time``) is virtual: timers fire at their exact moments."""

    def __init__(self) -> None:
        self.virtual = 0.0
        super().__init__(_VirtualSelector(self))

    def time(self) -> float:
        return self.virtual

    def stall(self, seconds: float) -> None:
        """The loop is blocked for ``seconds`` (no task runs meanwhile), as on a busy machine."""
        self.virtual += seconds


def run_virtual(main: Coroutine[Any, Any, T]) -> T:
    """``asyncio.run`` on a ``VirtualLoop`` starting at 0 s."""
    loop = VirtualLoop()
    try:
        return loop.run_until_complete(main)
    finally:
        loop.close()


def virtual_loop() -> VirtualLoop:
    """The running loop, which a test on virtual time expects to be a ``VirtualLoop``."""
    loop = asyncio.get_running_loop()
    assert isinstance(loop, VirtualLoop)
    return loop
