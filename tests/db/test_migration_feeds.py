"""Migration 0012 (feed sources, tracked opens) goes down and up again on both engines, and
existing counter rows get ``opened = 0``."""

from __future__ import annotations

from alembic import command
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, inspect, text

from db.migrate import alembic_config, current_revision, upgrade


def _migrate(engine: Engine, revision: str, *, down: bool = False) -> None:
    cfg = alembic_config(engine)
    with engine.begin() as connection:
        cfg.attributes["connection"] = connection
        (command.downgrade if down else command.upgrade)(cfg, revision)


def test_down_before_0012_and_up_again_keeps_counter_rows(engine: Engine) -> None:
    scripts = ScriptDirectory.from_config(alembic_config(engine))
    before = scripts.get_revision("0012").down_revision  # re-chained at merge: ask, don't assume
    assert isinstance(before, str)
    _migrate(engine, before, down=True)
    tables = set(inspect(engine).get_table_names())
    assert "feed_source" not in tables and "feed_item" not in tables
    with engine.begin() as conn:
        conn.execute(
            text("INSERT INTO opd (kode, nama, created_at) VALUES ('X', 'X', :t)"),
            {"t": "2026-11-01 00:00:00"},
        )
        conn.execute(
            text(
                "INSERT INTO post (opd_id, url, platform, status, target_all, submitted_at) "
                "SELECT id, 'https://example.org/p', 'web', 'submitted', true, :t FROM opd"
            ),
            {"t": "2026-11-01 00:00:00"},
        )
        conn.execute(
            text(
                "INSERT INTO post_opd_stat (post_id, opd_id, delivered, liked, shared, "
                "participated) SELECT post.id, post.opd_id, 5, 2, 1, 2 FROM post"
            )
        )
    upgrade(engine)
    assert current_revision(engine) == scripts.get_current_head()
    with engine.connect() as conn:
        row = conn.execute(text("SELECT delivered, opened FROM post_opd_stat")).one()
    assert tuple(row) == (5, 0)
    columns = {c["name"] for c in inspect(engine).get_columns("delivery")}
    assert "opened_at" in columns
