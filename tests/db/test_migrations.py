from __future__ import annotations

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Engine, insert, inspect
from sqlalchemy.exc import IntegrityError

from db.migrate import alembic_config, current_revision, upgrade
from db.models import Asn, Opd, metadata, table
from db.types import utcnow


def test_migrations_match_models(engine: Engine) -> None:
    """The database the migrations build is the one the models describe: no drift."""
    with engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        diff = compare_metadata(context, metadata)
    assert diff == []


def test_upgrade_is_idempotent_and_reaches_head(engine: Engine) -> None:
    before = current_revision(engine)
    upgrade(engine)
    assert current_revision(engine) == before is not None
    tables = set(inspect(engine).get_table_names())
    assert {"opd", "asn", "chat_identity", "admin", "api_key", "post", "delivery"} <= tables
    assert {"confirmation", "audit_log", "post_target"} <= tables


def test_every_migration_downgrades_and_upgrades_again(engine: Engine) -> None:
    """Each engine runs every migration both ways: PostgreSQL's DDL and SQLite's batch mode
    (which rebuilds tables and needs the named constraints) fail in different places."""
    head = current_revision(engine)
    cfg = alembic_config(engine)
    with engine.begin() as connection:
        cfg.attributes["connection"] = connection
        command.downgrade(cfg, "base")
    assert current_revision(engine) is None
    assert set(inspect(engine).get_table_names()) <= {"alembic_version"}
    upgrade(engine)
    assert current_revision(engine) == head
    test_migrations_match_models(engine)


def test_foreign_keys_are_enforced(engine: Engine) -> None:
    """On SQLite only when the connection turns them on (``db.engine``); on both, a row that
    points nowhere is refused."""
    now = utcnow()
    row = {"nip": "198501012010011001", "nama": "Tanpa OPD", "active": True}
    row |= {"created_at": now, "updated_at": now}
    with engine.begin() as conn:  # the same row is fine with an OPD that exists
        opd = conn.execute(
            insert(table(Opd)).values(kode="ADA", nama="Ada").returning(table(Opd).c.id)
        )
        conn.execute(insert(table(Asn)).values(**row, opd_id=opd.scalar_one()))
    with pytest.raises(IntegrityError, match=r"(?i)foreign key"), engine.begin() as conn:
        conn.execute(
            insert(table(Asn)).values(**row | {"nip": "198501012010011002"}, opd_id=999_999)
        )


def test_sqlite_runs_in_wal_mode_with_foreign_keys(engine: Engine) -> None:
    if engine.dialect.name != "sqlite":
        pytest.skip("SQLite's pragmas; PostgreSQL has no such switches")
    with engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
