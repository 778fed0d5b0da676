"""Several threads doing one step at the same moment, each with its own connection when the
step opens one: how the tests stand in for several processes racing for the same rows."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


def race(count: int, step: Callable[[int], T]) -> list[T]:
    """Start ``count`` threads together (behind one barrier), thread ``i`` running ``step(i)``;
    their results in thread order. An exception in a thread fails the test here instead of
    vanishing with the thread."""
    start = threading.Barrier(count)
    results: dict[int, T] = {}
    errors: list[BaseException] = []

    def run(i: int) -> None:
        try:
            start.wait()
            results[i] = step(i)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if errors:
        raise errors[0]
    return [results[i] for i in range(count)]
