from __future__ import annotations

import os
import subprocess
import sys

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, insert, inspect
from sqlalchemy.exc import IntegrityError

from db.migrate import alembic_config, current_revision, downgrade, head_revision, upgrade
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


def test_the_revisions_read_without_alembic_are_alembics(engine: Engine) -> None:
    scripts = ScriptDirectory.from_config(alembic_config(engine))
    assert head_revision() == scripts.get_current_head()
    with engine.connect() as conn:
        assert current_revision(engine) == MigrationContext.configure(conn).get_current_revision()


def test_a_service_checks_the_schema_without_importing_alembic(engine: Engine) -> None:
    """Every ``gaung`` service checks the revision at start; importing Alembic for it cost a
    worker 0.15-0.25 s before the first send of a post approved at that moment."""
    check = (
        "import sys; from api.cli import ready, settings; ready(settings()); "
        "print(sorted(m for m in sys.modules if m.split('.')[0] == 'alembic'))"
    )
    env = {**os.environ, "GAUNG_DATABASE_URL": engine.url.render_as_string(hide_password=False)}
    done = subprocess.run(
        [sys.executable, "-c", check], env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == "[]"


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


def test_personal_data_migration_keeps_every_row_when_it_rebuilds_tables(
    engine: Engine,
) -> None:
    """On SQLite the migration copies ``delivery`` and ``asn``; with foreign keys on, dropping
    the old tables would have cascaded into confirmations and NIP requests."""
    before = _revision_before("personal data:")
    downgrade(engine, before)
    now = "2026-11-01 00:00:00"
    with engine.begin() as conn:
        conn.exec_driver_sql(
            f"INSERT INTO opd (id, kode, nama, created_at) VALUES (1, 'A', 'A', '{now}')"
        )
        conn.exec_driver_sql(
            "INSERT INTO asn (id, nip, nama, opd_id, active, consent_at, created_at, updated_at) "
            f"VALUES (1, '198503122010011004', 'X', 1, true, '{now}', '{now}', '{now}'), "
            f"(2, '198503122010011005', 'Y', 1, false, NULL, '{now}', '{now}')"
        )
        conn.exec_driver_sql(
            "INSERT INTO post (id, opd_id, url, platform, status, target_all, submitted_at, "
            f"approved_at) VALUES (1, 1, 'https://x.test/p', 'web', 'sent', true, '{now}', '{now}')"
        )
        conn.exec_driver_sql(
            "INSERT INTO delivery (id, post_id, asn_id, opd_id, channel, status, attempts, "
            f"created_at) VALUES (1, 1, 1, 1, 'telegram', 'sent', 1, '{now}')"
        )
        conn.exec_driver_sql(
            f"INSERT INTO confirmation (delivery_id, kind, created_at) VALUES (1, 'like', '{now}')"
        )
        conn.exec_driver_sql(
            "INSERT INTO registration_request (asn_id, channel, external_id, chat_id, status, "
            f"created_at) VALUES (1, 'telegram', '5', '5', 'pending', '{now}')"
        )
    upgrade(engine)
    assert current_revision(engine) == head_revision()
    with engine.connect() as conn:
        counts = [
            conn.exec_driver_sql(f"SELECT count(*) FROM {name}").scalar()
            for name in ("delivery", "confirmation", "registration_request", "asn")
        ]
        assert counts == [1, 1, 1, 2]
        left = conn.exec_driver_sql(
            "SELECT id, left_at IS NOT NULL, consent_version FROM asn ORDER BY id"
        ).all()
        assert [tuple(r) for r in left] == [(1, False, "sebelum-2026-12-01"), (2, True, None)]
        assert conn.exec_driver_sql("SELECT event FROM consent").scalars().all() == ["given"]
    if engine.dialect.name == "sqlite":
        with engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1


def _revision_before(doc_start: str) -> str:
    """The revision a migration builds on, found by its docstring: ids are re-chained when
    branches merge, so tests do not name them."""
    from alembic.script import ScriptDirectory

    from db.engine import make_engine

    script = ScriptDirectory.from_config(alembic_config(make_engine("sqlite://")))
    [found] = [r for r in script.walk_revisions() if (r.doc or "").startswith(doc_start)]
    assert isinstance(found.down_revision, str)
    return found.down_revision
