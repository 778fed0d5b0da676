"""Backup and restore exactly as docs/operations.md tells an operator, on both engines.

PostgreSQL: ``pg_dump --format=custom`` and ``pg_restore`` into an empty database. SQLite: the
online backup API (``sqlite3 gaung.db ".backup FILE"`` does the same), taken while Gaung holds
the database open, then the file copied back. The restored database must hold the same rows and
be at the same migration, so ``gaung`` runs on it unchanged.
"""

from __future__ import annotations

import sqlite3
import subprocess
from pathlib import Path

import pytest
from sqlalchemy import Engine, inspect, text
from sqlalchemy.engine import make_url
from sqlmodel import Session

from db.engine import make_engine
from db.migrate import current_revision
from db.posts.lifecycle import approve_post, submit_post
from tests.factories import add_asn, register
from tests.pg import find_binary


def _fill(engine: Engine) -> None:
    with Session(engine) as session:
        for n in range(5):
            asn = add_asn(session, opd="DINKES" if n % 2 else "DISDIK", phone=f"0813{n:08d}")
            register(session, asn)
        post = submit_post(session, opd_kode="DINKES", url="https://instagram.com/p/cadangan")
        assert post.id is not None
        approve_post(session, post.id)
        session.commit()


def _contents(engine: Engine) -> dict[str, int]:
    with engine.connect() as conn:
        names = sorted(inspect(conn).get_table_names())
        return {
            name: conn.execute(text(f'SELECT count(*) FROM "{name}"')).scalar_one()
            for name in names
        }


def _pg_tool(name: str) -> str:
    found = find_binary(name)
    if found is None:
        pytest.skip(f"{name} not installed")
    return found


def test_backup_then_restore_gives_the_same_database(
    engine: Engine, database_url: str, tmp_path: Path
) -> None:
    _fill(engine)
    before = _contents(engine)
    revision = current_revision(engine)
    assert before["asn"] == 5 and before["delivery"] == 5

    if engine.dialect.name == "sqlite":
        source = Path(str(make_url(database_url).database))
        backup = tmp_path / "gaung-backup.db"
        # Gaung holds the database open: the online backup does not need it stopped.
        with engine.connect():
            live, copy = sqlite3.connect(source), sqlite3.connect(backup)
            try:
                live.backup(copy)
            finally:
                live.close()
                copy.close()
        restored_path = tmp_path / "restored.db"
        restored_path.write_bytes(backup.read_bytes())
        restored_url = f"sqlite:///{restored_path}"
    else:
        url = make_url(database_url).set(drivername="postgresql")
        dump = tmp_path / "gaung.dump"
        plain = url.render_as_string(hide_password=False)
        subprocess.run(
            [_pg_tool("pg_dump"), "--format=custom", f"--file={dump}", plain],
            check=True,
            capture_output=True,
        )
        target = f"{url.database}_restored"
        admin = make_engine(
            url.set(database="postgres").render_as_string(hide_password=False),
            isolation_level="AUTOCOMMIT",
        )
        with admin.connect() as conn:
            conn.execute(text(f"CREATE DATABASE {target}"))
        restored_url = url.set(database=target).render_as_string(hide_password=False)
        subprocess.run(
            [_pg_tool("pg_restore"), "--no-owner", f"--dbname={restored_url}", str(dump)],
            check=True,
            capture_output=True,
        )

    restored = make_engine(restored_url)
    try:
        assert _contents(restored) == before
        assert current_revision(restored) == revision
        with Session(restored) as session:  # and Gaung works on it
            add_asn(session, opd="DINKES")
            session.commit()
        assert _contents(restored)["asn"] == 6
    finally:
        restored.dispose()
        if engine.dialect.name == "postgresql":
            with admin.connect() as conn:
                conn.execute(text(f"DROP DATABASE IF EXISTS {target} WITH (FORCE)"))
            admin.dispose()
