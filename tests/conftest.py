"""Every database test runs on SQLite and on PostgreSQL, each test on a fresh database.

Fresh databases are cheap copies of one migrated template (a file copy on SQLite, ``CREATE
DATABASE … TEMPLATE`` on PostgreSQL), so tests may commit, spawn processes and crash workers
without leaking state into each other.
"""

from __future__ import annotations

import itertools
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, text
from sqlmodel import Session

from db.engine import make_engine
from db.migrate import upgrade
from tests.pg import Cluster, start_cluster

IN_CI = os.environ.get("CI", "").lower() == "true"

# The slowest tests, slowest first (``--durations``, 2026-12-01): the single longest ones, then
# the files whose every test starts ``gaung`` processes. The run hands tests out two at a time
# (``--dist load --maxschedchunk 2``, see the Makefile), so starting these first lets the short
# ones fill the gaps and no minute-long test begins near the end with the other worker idle.
# A test not listed keeps its place after them; a stale entry only costs a little balance.
SLOWEST_FIRST = (
    "tests/bot/test_broadcast.py::test_kill_9_mid_broadcast_loses_nothing",
    "tests/api/test_demo.py",
    "tests/bot/test_scenario.py",
    "tests/bot/test_flood_processes.py::test_a_flood_wait_stops_every_worker_and_the_server",
    "tests/bot/test_webhook_crash.py",
    "tests/bot/test_database_outage.py",
    "tests/bot/test_worker_stop.py",
    "tests/bot/test_whatsapp_bot.py",
    "tests/bot/test_telegram_bot.py",
    "tests/bot/test_telegram_refusals.py",
    "tests/bot/test_dashboard_link.py",
    "tests/api/test_schemathesis.py",
    "tests/api/test_webhook_answers.py",
    "tests/bot/test_broadcast.py",
    "tests/bot/test_pace_broadcast.py",
    "tests/bot/test_chat_pace.py",
    "tests/bot/test_broadcast_channels.py",
    "tests/api/test_metrics.py",
    "tests/api/test_cli_data.py",
    "tests/db/delivery/test_outbox.py",
    "tests/bot/test_rate_sharing.py",
    "tests/db/test_migrations.py",
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Run the slowest tests first (see ``SLOWEST_FIRST``); the rest keep their order."""

    def rank(item: pytest.Item) -> int:
        found = (n for n, prefix in enumerate(SLOWEST_FIRST) if item.nodeid.startswith(prefix))
        return next(found, len(SLOWEST_FIRST))

    items.sort(key=rank)  # stable: within a rank, the collection's order


_counter = itertools.count()
KEPT_SETTINGS = frozenset({"GAUNG_TEST_DATABASE_URL"})


@pytest.fixture(scope="session", autouse=True)
def no_developer_settings(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """Tests never read a developer's ``.env`` or ``GAUNG_`` variables.

    A real token in either would make tests (and the processes they start, which inherit the
    environment and, without ``cwd``, the working folder) call Telegram. Tests run in an empty
    folder with no ``GAUNG_`` setting but the test database's; each test sets what it needs.
    """
    saved = {k: v for k, v in os.environ.items() if k.startswith("GAUNG_")}
    for name in saved:
        if name not in KEPT_SETTINGS:
            del os.environ[name]
    # The daily recap fires by the wall clock (16:00 WIB): off in every test and every process
    # a test starts, so no test's admin hears one by the time of day; its own tests turn it on.
    os.environ["GAUNG_RECAP_ENABLED"] = "false"
    before = Path.cwd()
    folder = tmp_path_factory.mktemp("cwd")
    os.chdir(folder)
    try:
        yield folder
    finally:
        os.chdir(before)
        os.environ.pop("GAUNG_RECAP_ENABLED", None)
        os.environ.update(saved)


@pytest.fixture(scope="session")
def pg_base_url() -> Iterator[str]:
    """A server URL without a database name; our own throwaway cluster unless one is given."""
    given = os.environ.get("GAUNG_TEST_DATABASE_URL")
    if given:
        yield given.rsplit("/", 1)[0]
        return
    cluster: Cluster | None = None
    try:
        cluster = start_cluster()
    except (FileNotFoundError, OSError) as exc:
        message = f"PostgreSQL server not available: {exc}"
        if IN_CI:
            pytest.fail(message + " (CI must run the PostgreSQL tests)")
        pytest.skip(message)
    try:
        yield cluster.url
    finally:
        cluster.stop()


def _admin_engine(base: str) -> Engine:
    return make_engine(f"{base}/postgres", isolation_level="AUTOCOMMIT")


@pytest.fixture(scope="session")
def pg_template(pg_base_url: str) -> Iterator[str]:
    # One per test process: pytest-xdist's workers may share a given server.
    name = f"gaung_template_{os.getpid()}"
    admin = _admin_engine(pg_base_url)
    with admin.connect() as conn:
        conn.execute(text(f"DROP DATABASE IF EXISTS {name}"))
        conn.execute(text(f"CREATE DATABASE {name}"))
    admin.dispose()
    engine = make_engine(f"{pg_base_url}/{name}")
    upgrade(engine)
    engine.dispose()
    yield name
    admin = _admin_engine(pg_base_url)
    with admin.connect() as conn:
        conn.execute(text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
    admin.dispose()


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("template") / "template.db"
    engine = make_engine(f"sqlite:///{path}")
    upgrade(engine)
    engine.dispose()  # the last connection to close checkpoints the WAL into the file
    return path


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        template: Path = request.getfixturevalue("sqlite_template")
        target = tmp_path / "gaung.db"
        shutil.copyfile(template, target)
        yield f"sqlite:///{target}"
        return
    base: str = request.getfixturevalue("pg_base_url")
    source: str = request.getfixturevalue("pg_template")
    name = f"t_{os.getpid()}_{next(_counter)}"
    admin = _admin_engine(base)
    with admin.connect() as conn:
        conn.execute(text(f"CREATE DATABASE {name} TEMPLATE {source}"))
    try:
        yield f"{base}/{name}"
    finally:
        with admin.connect() as conn:
            conn.execute(text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        admin.dispose()


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    engine = make_engine(database_url)
    yield engine
    engine.dispose()


@pytest.fixture
def session(engine: Engine) -> Iterator[Session]:
    with Session(engine, expire_on_commit=False) as session:
        yield session
