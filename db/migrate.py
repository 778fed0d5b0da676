"""Apply the migrations that ship inside the package, from any working folder.

Alembic is imported only to migrate: every ``gaung`` service checks the schema's revision at
start, and importing Alembic for that cost a worker about 0.15 s (0.25 s on a loaded machine)
before its first send of a post approved at that moment.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import Connection, Engine, inspect, text

if TYPE_CHECKING:
    from alembic.config import Config

VERSIONS = Path(__file__).parent / "migrations" / "versions"
_REVISION = re.compile(r"^revision(?:\s*:[^=]*)?=\s*['\"]([^'\"]+)['\"]", re.MULTILINE)
_DOWN = re.compile(r"^down_revision(?:\s*:[^=]*)?=\s*(?:['\"]([^'\"]+)['\"]|None)", re.MULTILINE)


def alembic_config(engine: Engine) -> Config:
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", "db:migrations")
    cfg.set_main_option("file_template", "%%(year)d%%(month).2d%%(day).2d_%%(slug)s")
    cfg.set_main_option("sqlalchemy.url", engine.url.render_as_string(hide_password=False))
    return cfg


def upgrade(engine: Engine, revision: str = "head") -> None:
    from alembic import command

    run(engine, command.upgrade, revision)


def downgrade(engine: Engine, revision: str) -> None:
    from alembic import command

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
    """The schema's revision as Alembic records it (its ``alembic_version`` table, one row on
    this project's single line of migrations); None before the first migration."""
    with engine.connect() as connection:
        if not inspect(connection).has_table("alembic_version"):
            return None
        return connection.execute(text("SELECT version_num FROM alembic_version")).scalar()


@cache
def _head() -> str | None:
    """The one revision no other names as its ``down_revision``, read from the files; Alembic
    itself where that is not one (a merge of two lines names a tuple)."""
    revisions: set[str] = set()
    below: set[str] = set()
    for script in VERSIONS.glob("*.py"):
        source = script.read_text(encoding="utf-8")
        revision, down = _REVISION.search(source), _DOWN.search(source)
        if revision is None or down is None:
            return _alembic_head()
        revisions.add(revision.group(1))
        if down.group(1):
            below.add(down.group(1))
    heads = revisions - below
    return heads.pop() if len(heads) == 1 else _alembic_head()


def _alembic_head() -> str | None:
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    cfg = Config()
    cfg.set_main_option("script_location", "db:migrations")
    return ScriptDirectory.from_config(cfg).get_current_head()


def head_revision(engine: Engine | None = None) -> str | None:
    """The newest revision this installed package ships (read once per process)."""
    return _head()
