"""Apply the migrations that ship inside the package, from any working folder."""

from __future__ import annotations

from collections.abc import Callable
from functools import cache

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine


def alembic_config(engine: Engine) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", "db:migrations")
    cfg.set_main_option("file_template", "%%(year)d%%(month).2d%%(day).2d_%%(slug)s")
    cfg.set_main_option("sqlalchemy.url", engine.url.render_as_string(hide_password=False))
    return cfg


def upgrade(engine: Engine, revision: str = "head") -> None:
    _migrate(engine, lambda cfg: command.upgrade(cfg, revision))


def downgrade(engine: Engine, revision: str) -> None:
    _migrate(engine, lambda cfg: command.downgrade(cfg, revision))


def _migrate(engine: Engine, run: Callable[[Config], None]) -> None:
    """Migrate in one transaction. On SQLite, with foreign keys off while it runs.

    Alembic's batch mode changes a SQLite table by copying it and dropping the original; with
    foreign keys on, that drop would cascade into the rows that point at it (dropping
    ``delivery`` would delete every confirmation). SQLite only honours the pragma outside a
    transaction, so it is set on the raw connection before ours begins, and every reference
    is checked before commit.
    """
    cfg = alembic_config(engine)
    sqlite = engine.dialect.name == "sqlite"
    with engine.connect() as connection:
        raw = connection.connection.driver_connection
        if sqlite:
            raw.execute("PRAGMA foreign_keys=OFF")  # type: ignore[union-attr]
        try:
            with connection.begin():
                cfg.attributes["connection"] = connection
                run(cfg)
                if sqlite:
                    broken = connection.exec_driver_sql("PRAGMA foreign_key_check").all()
                    if broken:
                        raise RuntimeError(f"migration left broken references: {broken[:5]}")
        finally:
            if sqlite:
                raw.execute("PRAGMA foreign_keys=ON")  # type: ignore[union-attr]


def current_revision(engine: Engine) -> str | None:
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


@cache
def _head() -> str | None:
    from alembic.script import ScriptDirectory

    cfg = Config()
    cfg.set_main_option("script_location", "db:migrations")
    return ScriptDirectory.from_config(cfg).get_current_head()


def head_revision(engine: Engine | None = None) -> str | None:
    """The newest revision this installed package ships (read once per process)."""
    return _head()
