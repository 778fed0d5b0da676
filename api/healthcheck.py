"""``python -m api.healthcheck serve|worker``: each container's own health check.

``serve`` asks the local ``/healthz``. ``worker`` opens no port, so it looks in the database for
the heartbeat of a worker running in this container (worker ids start with the host name, which
is the container's): a worker that hangs stops beating and turns its container unhealthy.
"""

from __future__ import annotations

import socket
import sys
import urllib.request
from datetime import timedelta

from sqlalchemy import func, select

from db.delivery.coordination import LIVE_FOR
from db.engine import make_engine, session_scope
from db.models import WorkerHeartbeat, table
from db.settings import SettingsError, load_settings
from db.types import utcnow


def worker_id_prefix() -> str:
    """What ``gaung worker`` puts in front of its id (the heartbeat table holds 64 characters)."""
    return socket.gethostname()[:40] + "-"


def check_serve(port: int = 8000) -> str | None:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=4) as response:
            return None if response.status == 200 else f"/healthz answered {response.status}"
    except OSError as exc:
        return f"/healthz unreachable: {exc}"


def check_worker(database_url: str, *, within: timedelta = 3 * LIVE_FOR) -> str | None:
    beats = table(WorkerHeartbeat)
    engine = make_engine(database_url)
    try:
        with session_scope(engine, readonly=True) as session:
            live = session.connection().execute(
                select(func.count()).where(
                    beats.c.id.startswith(worker_id_prefix(), autoescape=True),
                    beats.c.seen_at >= utcnow() - within,
                )
            )
            if not live.scalar_one():
                return f"no heartbeat from a worker on {socket.gethostname()} in {within}"
    except Exception as exc:  # any failure is "unhealthy", said in one line
        return f"database: {exc.__class__.__name__}"
    finally:
        engine.dispose()
    return None


def main(argv: list[str]) -> int:
    what = argv[1] if len(argv) > 1 else ""
    if what == "serve":
        problem = check_serve(int(argv[2]) if len(argv) > 2 else 8000)
    elif what == "worker":
        try:
            problem = check_worker(load_settings().database_url)
        except SettingsError as exc:
            problem = str(exc)
    else:
        problem = "usage: python -m api.healthcheck serve [PORT] | worker"
    if problem:
        print(f"unhealthy: {problem}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv))
