"""The worker's periodic loop: a failed round is logged and skipped, never the end of the loop."""

from __future__ import annotations

import asyncio
import logging

import pytest
from sqlalchemy.exc import OperationalError

from bot.periodic import repeat


def test_failed_rounds_are_logged_and_skipped_and_the_rest_are_counted(
    caplog: pytest.LogCaptureFixture,
) -> None:
    outcomes: list[BaseException | int] = [
        OperationalError("SELECT 1", {}, ConnectionRefusedError()),
        KeyError("bug"),
        2,
        3,
    ]
    stop = asyncio.Event()

    async def one_round() -> int:
        outcome = outcomes.pop(0)
        if not outcomes:
            stop.set()
        if isinstance(outcome, BaseException):
            raise outcome
        return outcome

    with caplog.at_level(logging.WARNING, logger="gaung.periodic"):
        total = asyncio.run(asyncio.wait_for(repeat(one_round, stop, every=0.01, name="r"), 5))

    assert total == 5 and outcomes == []
    assert [(r.levelname, r.getMessage(), r.exc_info is not None) for r in caplog.records] == [
        ("WARNING", "r skipped: OperationalError", False),
        ("ERROR", "r failed", True),
    ]
