from __future__ import annotations

import asyncio
import random

import pytest
from sqlalchemy import Engine, func, select

from bot.inbox import InboxWriter, Incoming, NotStored, Receipt
from db.delivery.confirmations import Tap, TapOutcome
from db.delivery.inbox import unhandled
from db.engine import session_scope
from db.models import Confirmation, ProcessedUpdate, table
from tests.db.delivery.test_confirmations import regency, user_of


class CountingWriter(InboxWriter):
    """Counts the transactions, to see that a burst shares them."""

    transactions = 0

    def _write(self, items: list[Incoming]) -> list[Receipt]:
        self.transactions += 1
        return super()._write(items)


def test_a_burst_is_stored_in_shared_transactions_each_update_once(engine: Engine) -> None:
    with session_scope(engine) as session:
        _, deliveries = regency(session, people=40, send=40)
        people = [(d.id or 0, user_of(session, d)) for d in deliveries]
    rng = random.Random(3)
    items = []
    for n in range(400):
        delivery_id, user = rng.choice(people)
        tap = Tap(delivery_id, rng.choice(["like", "share"]), user)
        items.append(Incoming("telegram", str(n), {"update_id": n}, tap if n % 10 else None))
    items += rng.sample(items, 40)  # Telegram's redeliveries, some while the first is in flight
    woken: list[int] = []

    async def main() -> list[Receipt]:
        writer = CountingWriter(
            engine, redraw=frozenset({"telegram"}), on_redraw=lambda: woken.append(1)
        )
        writer.start()
        try:
            return await asyncio.gather(*(writer.submit(item) for item in items))
        finally:
            await writer.stop()
            assert writer.transactions < len(items) / 4, writer.transactions

    receipts = asyncio.run(main())
    assert sum(r.new for r in receipts) == 400  # each update_id new exactly once
    recorded = {
        (i.tap.delivery_id, i.tap.kind)
        for i, r in zip(items, receipts, strict=True)
        if i.tap and r.tap and r.tap.outcome == TapOutcome.RECORDED
    }
    taps = {(i.tap.delivery_id, i.tap.kind) for i in items[:400] if i.tap}
    assert recorded == taps and woken
    assert all(r.tap is None for i, r in zip(items, receipts, strict=True) if i.tap is None)
    with session_scope(engine) as session:
        conn = session.connection()
        inbox = select(func.count()).select_from(table(ProcessedUpdate))
        assert conn.execute(inbox).scalar() == 400
        confirmation = table(Confirmation)
        stored = set(conn.execute(select(confirmation.c.delivery_id, confirmation.c.kind)))
        assert stored == taps
        # Taps were handled in their own transaction; the rest wait for the bot's handlers.
        assert sorted(int(u) for u, _ in unhandled(session, "telegram")) == list(range(0, 400, 10))


def test_one_bad_update_fails_alone(engine: Engine) -> None:
    with session_scope(engine) as session:
        _, (d1, _, _) = regency(session)
        user = user_of(session, d1)

    async def main() -> list[Receipt | BaseException]:
        writer = InboxWriter(engine)
        writer.start()
        items = [
            Incoming("telegram", "1", {}, Tap(d1.id or 0, "like", user)),
            Incoming("telegram", "2", {}, Tap(d1.id or 0, "love", user)),  # no such kind
            Incoming("telegram", "3", {"update_id": 3}),
        ]
        try:
            return await asyncio.gather(
                *(writer.submit(item) for item in items), return_exceptions=True
            )
        finally:
            await writer.stop()

    ok, bad, other = asyncio.run(main())
    assert isinstance(ok, Receipt) and ok.tap and ok.tap.outcome == TapOutcome.RECORDED
    assert isinstance(bad, NotStored)  # not stored: the webhook answers 503, Telegram retries
    assert isinstance(other, Receipt) and other.new
    with session_scope(engine) as session:
        ids = session.connection().execute(select(table(ProcessedUpdate).c.update_id))
        assert sorted(u for (u,) in ids) == ["1", "3"]


def test_a_stopped_writer_takes_nothing(engine: Engine) -> None:
    async def main() -> None:
        writer = InboxWriter(engine)
        with pytest.raises(NotStored):
            await writer.submit(Incoming("telegram", "1", {}))

    asyncio.run(main())
