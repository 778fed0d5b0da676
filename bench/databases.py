"""Databases for benchmarks: a SQLite file and a PostgreSQL cluster, fresh or kept on disk.

``fresh_databases`` makes migrated, empty databases in a temporary folder and removes them
afterwards. ``kept_databases`` keeps them in a folder of the caller's choosing, so that a
benchmark whose seeding takes ten minutes per engine can be re-run in seconds: the folder holds
``sqlite/bench.db`` and a PostgreSQL data directory ``postgresql/data``, and each engine's
``seeded.json`` says what was seeded into it (written only once seeding finished, so an
interrupted seed is redone, not trusted). Kept databases are migrated to head on every start:
a new migration (an index, say) is applied to the seeded data as it would be in production.

PostgreSQL runs with its production defaults: fsync, synchronous commit and full-page writes on
(the tests' clusters turn them off). Every server a benchmark starts is asked for these
settings once it is up, and ``servers_seen`` is what ``python -m bench`` writes under each
section, so a section says what it was measured on rather than what was meant.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import tempfile
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, select, text, update
from sqlmodel import select as sm_select

from bot.emulators.telegram.world import FIRST_USER_ID
from db.accounts.identities import link_identity
from db.delivery.counters import FIELDS, fact_counts, rebuild
from db.engine import make_engine, session_scope
from db.migrate import upgrade
from db.models import Asn, ChatIdentity, Delivery, DeliveryStatus, Opd, PostOpdStat, table
from db.posts.lifecycle import approve_post, submit_post
from db.roster.synthetic import import_synthetic_roster
from db.types import utcnow
from tests.pg import binaries, init_data, server_user, start_cluster, start_server

DURABILITY = ("fsync", "synchronous_commit", "full_page_writes")
servers_seen: set[str] = set()  # "fsync=on, synchronous_commit=on, …" of each server started


def durability(url: str) -> str:
    """The running server's durability settings, as it reports them (``SHOW``)."""
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            values = [f"{n}={conn.exec_driver_sql(f'SHOW {n}').scalar()}" for n in DURABILITY]
    finally:
        engine.dispose()
    return ", ".join(values)


@dataclass
class BenchDatabase:
    """One engine's database; ``seeded`` is what a previous run recorded, if anything."""

    url: str
    marker: Path | None = None

    @property
    def seeded(self) -> dict[str, Any] | None:
        if self.marker is None or not self.marker.exists():
            return None
        data: dict[str, Any] = json.loads(self.marker.read_text(encoding="utf-8"))
        return data

    def mark_seeded(self, facts: dict[str, Any]) -> None:
        """Record a finished seed; a no-op for fresh databases, which are thrown away."""
        if self.marker is not None:
            self.marker.write_text(json.dumps(facts, indent=2, default=str), encoding="utf-8")


@contextmanager
def fresh_databases(
    engines: tuple[str, ...] = ("sqlite", "postgresql"),
) -> Iterator[dict[str, str]]:
    """Yield URLs of migrated, empty databases, one per engine; all removed afterwards."""
    folder = Path(tempfile.mkdtemp(prefix="gaung-bench-"))
    urls: dict[str, str] = {}
    cluster = None
    try:
        if "sqlite" in engines:
            urls["sqlite"] = f"sqlite:///{folder / 'bench.db'}"
        if "postgresql" in engines:
            cluster = start_cluster(durable=True)
            servers_seen.add(durability(f"{cluster.url}/postgres"))
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
        shutil.rmtree(folder, ignore_errors=True)


@contextmanager
def bench_databases(
    reuse: Path | None, engines: tuple[str, ...] = ("sqlite", "postgresql")
) -> Iterator[dict[str, BenchDatabase]]:
    """Fresh databases, or (``reuse`` given) the ones kept in that folder."""
    if reuse is None:
        with fresh_databases(engines) as urls:
            yield {name: BenchDatabase(url) for name, url in urls.items()}
    else:
        with kept_databases(reuse, engines) as databases:
            yield databases


@contextmanager
def kept_databases(
    folder: Path, engines: tuple[str, ...] = ("sqlite", "postgresql")
) -> Iterator[dict[str, BenchDatabase]]:
    """Databases kept in ``folder`` between runs; created (empty) when missing."""
    folder = folder.resolve()
    folder.mkdir(parents=True, exist_ok=True)
    databases: dict[str, BenchDatabase] = {}
    stop: Callable[[], None] | None = None
    try:
        if "sqlite" in engines:
            path = folder / "sqlite" / "bench.db"
            path.parent.mkdir(exist_ok=True)
            databases["sqlite"] = BenchDatabase(f"sqlite:///{path}", path.with_name("seeded.json"))
            if databases["sqlite"].seeded is None:  # never seeded, or interrupted: start over
                for leftover in path.parent.glob("bench.db*"):
                    leftover.unlink()
        if "postgresql" in engines:
            base, stop = _kept_cluster(folder / "postgresql")
            servers_seen.add(durability(f"{base}/postgres"))
            databases["postgresql"] = BenchDatabase(
                f"{base}/bench", folder / "postgresql" / "seeded.json"
            )
            admin = make_engine(f"{base}/postgres", isolation_level="AUTOCOMMIT")
            try:
                with admin.connect() as conn:
                    if databases["postgresql"].seeded is None:
                        conn.execute(text("DROP DATABASE IF EXISTS bench"))
                        conn.execute(text("CREATE DATABASE bench"))
            finally:
                admin.dispose()
        for database in databases.values():
            engine = make_engine(database.url)
            upgrade(engine)
            engine.dispose()
        yield databases
    finally:
        if stop is not None:
            stop()


def _kept_cluster(folder: Path) -> tuple[str, Callable[[], None]]:
    """Start (initialising on first use) a cluster in ``folder``; the server URL and a stop."""
    _, pg_ctl = binaries()
    folder.mkdir(parents=True, exist_ok=True)
    demote = server_user(folder)  # PostgreSQL refuses to run as root
    data = folder / "data"
    if not (data / "PG_VERSION").exists():
        shutil.rmtree(data, ignore_errors=True)
        (folder / "seeded.json").unlink(missing_ok=True)
        init_data(data, demote, durable=True)
    port = start_server(data, folder, demote, durable=True)
    base = f"postgresql+psycopg://gaung@127.0.0.1:{port}"

    def stop() -> None:
        subprocess.run(
            [pg_ctl, "-D", str(data), "-m", "fast", "-w", "stop"],
            preexec_fn=demote,
            capture_output=True,
            check=False,
        )

    return base, stop


def emulated_roster(engine: Engine, n: int, *, seed: int) -> None:
    """``n`` generated ASN in the packaged OPD, the k-th (by id) linked to the emulator's k-th
    user (``FIRST_USER_ID + k``), as if each had registered in Telegram."""
    with session_scope(engine) as session:
        report = import_synthetic_roster(session, n, seed=seed)
        assert report.added == n and not report.rejected, report.as_dict()
    with session_scope(engine) as session:
        people = list(session.exec(sm_select(Asn).order_by(Asn.id)))  # type: ignore[arg-type]
        for k, asn in enumerate(people):
            link_identity(session, asn, channel="telegram", external_id=str(FIRST_USER_ID + k))


def approve_for_everyone(engine: Engine, url: str, caption: str) -> tuple[int, int]:
    """A post by the first OPD, approved for every OPD now: (post id, deliveries queued)."""
    with session_scope(engine) as session:
        kode = session.exec(sm_select(Opd.kode).order_by(Opd.id)).first()  # type: ignore[arg-type]
        assert kode is not None
        post = submit_post(session, opd_kode=kode, url=url, caption=caption)
        assert post.id is not None
        _, queued = approve_post(session, post.id)
        return post.id, queued


def as_if_sent(
    engine: Engine, post_id: int | None = None, *, message_id: str | None = None
) -> list[tuple[int, str]]:
    """Every delivery (of ``post_id``, or of every post) recorded sent, as if the broadcast
    had run, with the counters recomputed from the facts (the bulk update bypasses those that
    recording a send keeps, so the checks start from a true state): (delivery, chat id) of each.
    """
    delivery, identity = table(Delivery), table(ChatIdentity)
    scope = [delivery.c.post_id == post_id] if post_id is not None else []
    with session_scope(engine) as session:
        conn = session.connection()
        conn.execute(
            update(delivery)
            .where(*scope)
            .values(
                status=DeliveryStatus.SENT.value,
                message_id=message_id,
                sent_at=utcnow(),
                attempts=1,
            )
        )
        rebuild(session)
        return [
            (int(d), str(chat))
            for d, chat in conn.execute(
                select(delivery.c.id, identity.c.external_id)
                .join(identity, identity.c.id == delivery.c.identity_id)
                .where(*scope)
                .order_by(delivery.c.id)
            )
        ]


Counts = dict[tuple[int, int], tuple[int, ...]]


def counters_and_facts(conn: Connection) -> tuple[Counts, Counts]:
    """Per (post, OPD): the running counters (``post_opd_stat``, in ``FIELDS`` order) and the
    same figures counted from the facts, for a benchmark to check that they agree."""
    stat = table(PostOpdStat)
    counters = {
        (int(row[0]), int(row[1])): tuple(int(v) for v in row[2:])
        for row in conn.execute(select(stat.c.post_id, stat.c.opd_id, *(stat.c[f] for f in FIELDS)))
    }
    facts = {
        (int(row[0]), int(row[1])): tuple(int(v) for v in row[2:])
        for row in conn.execute(fact_counts(["post_id", "opd_id"]))
    }
    return counters, facts


def engine_table(
    intro: Sequence[str],
    columns: str,
    rows: Callable[[str, str], Iterable[str]],
    engines: tuple[str, ...] = ("sqlite", "postgresql"),
) -> list[str]:
    """A benchmark's section: ``intro``, then a table of ``columns`` (``"a | b | c"``) whose
    rows ``rows(engine, url)`` writes for each engine, on fresh databases. The separator row is
    counted from the columns, so a column added is never a table Markdown cannot read."""
    names = [name.strip() for name in columns.split("|")]
    lines = [*intro, "", f"| {' | '.join(names)} |", "|" + " --- |" * len(names)]
    with fresh_databases(engines) as urls:
        for name, url in urls.items():
            lines.extend(rows(name, url))
    return lines
