"""Fresh databases for benchmarks: a SQLite file and a throwaway PostgreSQL cluster."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import text

from db.engine import make_engine
from db.migrate import upgrade
from tests.pg import start_cluster


@contextmanager
def fresh_databases(
    engines: tuple[str, ...] = ("sqlite", "postgresql"),
) -> Iterator[dict[str, str]]:
    """Yield URLs of migrated, empty databases, one per engine."""
    folder = Path(tempfile.mkdtemp(prefix="gaung-bench-"))
    urls: dict[str, str] = {}
    cluster = None
    try:
        if "sqlite" in engines:
            urls["sqlite"] = f"sqlite:///{folder / 'bench.db'}"
        if "postgresql" in engines:
            cluster = start_cluster()
            admin = make_engine(f"{cluster.url}/postgres", isolation_level="AUTOCOMMIT")
            with admin.connect() as conn:
                conn.execute(text("CREATE DATABASE bench"))
            admin.dispose()
            urls["postgresql"] = f"{cluster.url}/bench"
        for url in urls.values():
            engine = make_engine(url)
            upgrade(engine)
            engine.dispose()
        yield urls
    finally:
        if cluster is not None:
            cluster.stop()
