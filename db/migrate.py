"""Apply the migrations that ship inside the package, from any working folder."""

from __future__ import annotations

from collections.abc import Callable
from functools import cache

from alembic import command
from alembic.config import Config
from sqlalchemy import Connection, Engine


def alembic_config(engine: Engine) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", "db:migrations")
    cfg.set_main_option("file_template", "%%(year)d%%(month).2d%%(day).2d_%%(slug)s")
    cfg.set_main_option("sqlalchemy.url", engine.url.render_as_string(hide_password=False))
    return cfg


def upgrade(engine: Engine, revision: str = "head") -> None:
    run(engine, command.upgrade, revision)


def downgrade(engine: Engine, revision: str) -> None:
    run(engine, command.downgrade, revision)


def run(engine: Engine, step: Callable[[Config, str], None], revision: str) -> None:
    """One transaction. On SQLite, foreign keys are off while it runs and checked before it
    commits: batch mode rebuilds a table by dropping it, which with keys on would delete (or
    refuse) every row that points at it (Alembic's documented SQLite recipe)."""
    cfg = alembic_config(engine)
    with engine.connect() as connection:
        sqlite = connection.dialect.name == "sqlite"
        if sqlite:  # a PRAGMA inside a transaction does nothing: set it before BEGIN
            _pragma(connection, "foreign_keys=OFF")
        try:
            with connection.begin():
                if not sqlite:  # a long migration is not a stuck query
                    connection.exec_driver_sql("SET LOCAL statement_timeout = 0")
                cfg.attributes["connection"] = connection
                step(cfg, revision)
                if sqlite:
                    broken = connection.exec_driver_sql("PRAGMA foreign_key_check").all()
                    if broken:
                        raise RuntimeError(f"migration broke foreign keys: {broken[:5]}")
        finally:
            if sqlite:
                _pragma(connection, "foreign_keys=ON")


def _pragma(connection: Connection, pragma: str) -> None:
    cursor = connection.connection.cursor()
    try:
        cursor.execute(f"PRAGMA {pragma}")
    finally:
        cursor.close()


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
