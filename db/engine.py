"""Engines and sessions for SQLite (embedded default) and PostgreSQL (production).

No engine puts statement parameters into its error messages (``hide_parameters``): they hold
names, NIPs, phone numbers and raw chat updates, and error messages end up in logs. PostgreSQL
also repeats values in its own messages (``DETAIL: Key (nip)=(1985…) already exists``, a
failing row in full, ``invalid input syntax for type integer: "…"``), so on PostgreSQL an
error's message keeps only its first line, and for data errors (SQLSTATE class 22, which quote
the input) only its kind, with the constraint, table and column named.

PostgreSQL connections give up connecting after ``connect_timeout`` seconds and cancel
statements that run longer than ``statement_timeout`` (a database in trouble makes requests
fail fast, and the API answers 503, rather than pile up); migrations lift the statement limit.

SQLite runs in WAL mode with foreign keys on. Its write transactions begin ``IMMEDIATE`` so
that two processes sharing the file queue for the write lock (``busy_timeout``) instead of
failing when a read transaction tries to upgrade — the documented pysqlite recipe, which also
requires taking transaction control away from the sqlite3 module.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import Connection, ExceptionContext, make_url
from sqlmodel import Session

SQLITE_BUSY_TIMEOUT_MS = 60_000
CONNECT_TIMEOUT_S = 5.0
STATEMENT_TIMEOUT_S = 30.0


def make_engine(
    url: str,
    *,
    connect_timeout: float = CONNECT_TIMEOUT_S,
    statement_timeout: float = STATEMENT_TIMEOUT_S,
    **kwargs: Any,
) -> Engine:
    """``statement_timeout`` 0 means no limit; both timeouts apply to PostgreSQL only."""
    parsed = make_url(url)
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    kwargs.setdefault("hide_parameters", True)
    if parsed.get_backend_name() == "sqlite":
        return _sqlite_engine(str(parsed.render_as_string(hide_password=False)), **kwargs)
    connect_args = kwargs.setdefault("connect_args", {})
    connect_args.setdefault("connect_timeout", max(1, round(connect_timeout)))
    if statement_timeout > 0:
        connect_args.setdefault("options", f"-c statement_timeout={int(statement_timeout * 1000)}")
    kwargs.setdefault("pool_pre_ping", True)
    # A request waits this long for a pooled connection before failing (503), not 30 s.
    kwargs.setdefault("pool_timeout", 10)
    # ``pool_size`` is also how many API requests use the database at once (see
    # ``api.deps.request_slots``): plenty for two to four cores, and it leaves the overflow to
    # the delivery workers and webhooks running in the same process. (SQLite keeps
    # SQLAlchemy's default of 5 + 10: its readers run side by side, and its writers queue.)
    kwargs.setdefault("pool_size", 10)
    kwargs.setdefault("max_overflow", 20)
    engine = create_engine(parsed, **kwargs)
    event.listen(engine, "handle_error", _without_values)
    return engine


def _without_values(context: ExceptionContext) -> None:
    """Rewrite a PostgreSQL error's message (the driver's and SQLAlchemy's) without the values
    the server quoted: SQLSTATE, the first line (not for data errors), and the names of the
    constraint, table and column."""
    orig = context.original_exception
    diag = getattr(orig, "diag", None)
    if diag is None or not diag.sqlstate:  # not from the server (refused, timed out): no data
        return
    named = ", ".join(
        f"{what} {name}"
        for what, name in (
            ("constraint", diag.constraint_name),
            ("table", diag.table_name),
            ("column", diag.column_name),
        )
        if name
    )
    said = type(orig).__name__ if diag.sqlstate.startswith("22") else diag.message_primary
    terse = f"[{diag.sqlstate}] {said}" + (f" ({named})" if named else "")
    orig.args = (terse,)
    wrapped = context.sqlalchemy_exception
    if wrapped is not None:
        wrapped.args = (f"({type(orig).__module__}.{type(orig).__name__}) {terse}",)


def _sqlite_engine(url: str, **kwargs: Any) -> Engine:
    connect_args = kwargs.pop("connect_args", {})
    connect_args.setdefault("check_same_thread", False)
    connect_args.setdefault("timeout", SQLITE_BUSY_TIMEOUT_MS / 1000)
    engine = create_engine(url, connect_args=connect_args, **kwargs)

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.isolation_level = None  # we emit BEGIN ourselves, below
        cursor = dbapi_conn.cursor()
        if make_url(url).database not in (None, "", ":memory:"):
            cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        mode = conn.get_execution_options().get("sqlite_begin", "IMMEDIATE")
        conn.exec_driver_sql(f"BEGIN {mode}")

    return engine


@contextmanager
def session_scope(engine: Engine, *, readonly: bool = False) -> Iterator[Session]:
    """A unit of work: commit on success, roll back on error. Domain code only flushes.

    ``readonly`` sessions never take SQLite's write lock: their transactions begin
    ``DEFERRED``, and in WAL mode a reader sees its snapshot without waiting for, or holding
    up, the writer. (Such a transaction must not write: once it has read, SQLite cannot let it
    wait for the lock, and answers "database is locked" at once if another writer got there
    first.) On PostgreSQL they are ``READ ONLY`` transactions, so an accidental write fails
    on the engine the tests also run, instead of only sometimes, under load, on SQLite.
    """
    bind: Engine | Connection = _readonly(engine) if readonly else engine
    with Session(bind, expire_on_commit=False) as session:
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise


def _readonly(engine: Engine) -> Engine:
    """``engine`` with the read-only options, made once per engine and kept on it: every GET
    of the API opens such a session, and deriving the options engine anew each time was a
    noticeable share of a participation request's CPU (issue 11)."""
    bind: Engine | None = getattr(engine, "_gaung_readonly", None)
    if bind is None:
        bind = engine
        if engine.dialect.name == "sqlite":
            bind = engine.execution_options(sqlite_begin="DEFERRED")
        elif engine.dialect.name == "postgresql":
            bind = engine.execution_options(postgresql_readonly=True)
        engine._gaung_readonly = bind  # type: ignore[attr-defined]
    return bind


def unreachable(error: BaseException) -> bool:
    """Whether ``error`` says the database is away or overwhelmed (refused, timed out, locked,
    connection lost) rather than that a statement was wrong: worth a 503 and a retry later,
    not a 500."""
    if isinstance(error, sa_exc.OperationalError | sa_exc.InterfaceError | sa_exc.TimeoutError):
        return True
    return isinstance(error, sa_exc.DBAPIError) and error.connection_invalidated
