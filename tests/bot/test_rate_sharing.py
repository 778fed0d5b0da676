"""Two workers share one bot's 30 messages/s: together they must not exceed it.

Sharing was tested only at a paid 1,000/s, where the emulator's limit is far above what two
workers send; here the emulated Telegram allows exactly 30/s with a small bucket, so two
workers that each sent at the full rate would be refused within the first second.
"""

from __future__ import annotations

import asyncio

from sqlalchemy import Engine

from bot.broadcast import Broadcaster
from bot.emulators.telegram import Limits, TelegramEmulator
from bot.ratelimit import shared_pacer
from db.engine import make_engine
from tests.bot.conftest import registered_members
from tests.bot.test_broadcast import FAST, approve, broadcast

RATE = 30.0
MEMBERS = 120  # four seconds of the bot's whole rate
# No flood penalty: that sending during a flood wait lengthens it is the emulator's assumption,
# not a documented Telegram rule; this test is about the rate alone.
STRICT = Limits(rate=RATE, burst=5, chat_burst=10, flood_penalty=0.0, shape="bucket")


def test_two_workers_at_30_per_second_stay_within_a_strict_30_per_second_together(
    database_url: str,
) -> None:
    engine: Engine = make_engine(database_url)
    with TelegramEmulator(STRICT) as tg:
        members = registered_members(engine, tg, MEMBERS)
        post_id = approve(engine)

        async def both() -> list[Broadcaster]:
            other = make_engine(database_url)
            try:
                return list(
                    await asyncio.gather(
                        # Each worker process draws on the bot's one budget in the database,
                        # as every process does through the channel registry.
                        broadcast(
                            engine,
                            tg,
                            post_id,
                            rate=RATE,
                            config=FAST,
                            within=60,
                            pacers={"telegram": shared_pacer(engine, "telegram", RATE)},
                        ),
                        broadcast(
                            other,
                            tg,
                            post_id,
                            rate=RATE,
                            config=FAST,
                            within=60,
                            pacers={"telegram": shared_pacer(other, "telegram", RATE)},
                        ),
                    )
                )
            finally:
                other.dispose()

        first, second = asyncio.run(both())
        sends = tg.world.calls("sendMessage")
        ok = sorted(c.at for c in sends if c.status == 200)
        refused = [c for c in sends if c.status == 429]
        counts = tg.world.delivered_counts()
    engine.dispose()
    print(
        f"sent {len(ok)}, 429s {len(refused)}, in {ok[-1] - ok[0]:.2f} s; "
        f"split {first.stats.sent}/{second.stats.sent}"
    )
    print("429 at", [round(c.at - ok[0], 2) for c in refused])
    assert sorted(counts[m.user_id] for m in members) == [1] * MEMBERS
    assert first.stats.sent > 0 and second.stats.sent > 0  # both did send
    # Together at most the bot's rate: the sends beyond the first bucket took ≥ (n - 5) / 30 s.
    ideal = (MEMBERS - STRICT.burst) / RATE  # type: ignore[operator]
    assert ideal * 0.95 <= ok[-1] - ok[0] <= ideal * 2 + 2
    assert len(refused) <= MEMBERS * 0.02, [c.description for c in refused]
