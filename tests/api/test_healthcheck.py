"""Each container checks its own health: serve its /healthz, a worker its own heartbeat."""

from __future__ import annotations

import socket
from datetime import timedelta

from sqlalchemy import Engine

from api.healthcheck import check_serve, check_worker, main, worker_id_prefix
from bot.emulators.thread import free_port
from db.delivery.coordination import heartbeat
from db.engine import session_scope
from db.types import utcnow


def test_worker_is_healthy_only_with_a_recent_heartbeat_of_its_own(
    engine: Engine, database_url: str
) -> None:
    assert check_worker(database_url) is not None  # no worker has started
    with session_scope(engine) as session:
        heartbeat(session, "other-host-0123456789ab", now=utcnow())
    assert "no heartbeat" in (check_worker(database_url) or "")  # another container's worker
    with session_scope(engine) as session:
        heartbeat(session, f"{worker_id_prefix()}0123456789ab", now=utcnow() - timedelta(minutes=5))
    assert check_worker(database_url) is not None  # a hung worker stopped beating
    with session_scope(engine) as session:
        heartbeat(session, f"{worker_id_prefix()}0123456789ab", now=utcnow())
    assert check_worker(database_url) is None
    assert worker_id_prefix().startswith(socket.gethostname()[:40])


def test_worker_check_fails_in_one_line_without_a_database(tmp_path: object) -> None:
    problem = check_worker("postgresql://gaung:x@127.0.0.1:9/none")
    assert problem is not None and problem.startswith("database:")


def test_serve_check_fails_when_nothing_listens() -> None:
    assert check_serve(free_port()) is not None
    assert main(["healthcheck", "bogus"]) == 1
