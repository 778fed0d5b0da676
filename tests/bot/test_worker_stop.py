"""A worker asked to stop while PostgreSQL is down (issues 10 and 12).

It once never exited: its outcome writer retried for ever, and sends waiting for a slot from
the shared pacer (reserved in the database) waited for ever. Now it keeps trying for
``GAUNG_WORKER_STOP_SECONDS``, exits with one line saying what it could not record, and the
rows it held, still leased, go to the next worker once the lease runs out: nothing is lost.
"""

from __future__ import annotations

import re
import signal
import subprocess
import time
from pathlib import Path

import pytest

from bot.emulators.telegram import TelegramEmulator
from db.engine import make_engine
from db.models import DeliveryStatus
from tests.bot.conftest import registered_members
from tests.bot.test_broadcast import _worker, approve, deliveries
from tests.bot.test_database_outage import accepted_sends, cluster, pg_url  # noqa: F401
from tests.pg import Cluster

STOP_SECONDS = 3.0


def test_a_worker_stopped_while_postgresql_is_down_exits_in_time_and_loses_nothing(
    pg_url: str,  # noqa: F811  (the fixtures imported above)
    cluster: Cluster,  # noqa: F811
    tg: TelegramEmulator,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    engine = make_engine(pg_url)
    members = registered_members(engine, tg, 150)
    post_id = approve(engine)
    monkeypatch.setenv("GAUNG_WORKER_STOP_SECONDS", str(STOP_SECONDS))
    workers = [_worker(pg_url, tg, tmp_path)]
    log = tmp_path / "worker.log"
    try:
        tg.wait_for(lambda: tg.world.delivered_counts().total() >= 20, timeout=60)
        recorded = sum(d.status == DeliveryStatus.SENT for d in deliveries(engine, post_id))
        engine.dispose()  # its connections die with the server
        cluster.crash()
        time.sleep(1.0)  # sends go on; their outcomes cannot be written
        workers[0].send_signal(signal.SIGTERM)
        asked = time.monotonic()
        try:
            workers[0].wait(timeout=STOP_SECONDS + 20)
        except subprocess.TimeoutExpired:
            pytest.fail("the worker did not stop while the database was down:\n" + log.read_text())
        took = time.monotonic() - asked
        # The bound, plus a refused connection or two and the process's own exit.
        assert took < STOP_SECONDS + 10, took
        said = re.findall(r"(\d+) outcomes not recorded and (\d+) claimed", log.read_text())
        assert len(said) == 1, log.read_text()
        unrecorded, unsent = map(int, said[0])
        assert unrecorded + unsent > 0, said
        cluster.restart(durable=True)
        in_flight = accepted_sends(tg, until=tg.world.clock()) - recorded
        workers.append(_worker(pg_url, tg, tmp_path))
        deadline = time.monotonic() + 90
        while any(d.status != DeliveryStatus.SENT for d in deliveries(engine, post_id)):
            assert time.monotonic() < deadline, "the broadcast did not finish after the restart"
            assert workers[1].poll() is None, log.read_text()
            time.sleep(0.2)
    finally:
        for worker in workers:
            if worker.poll() is None:
                worker.terminate()
                worker.wait(timeout=60)
        engine.dispose()
    counts = tg.world.delivered_counts()
    assert sum(1 for m in members if counts[m.user_id] == 0) == 0  # none lost
    assert sum(counts[m.user_id] - 1 for m in members if counts[m.user_id]) <= in_flight
