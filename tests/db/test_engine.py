"""Sessions: read-only ones never hold up writers, and cannot write by accident."""

from __future__ import annotations

import threading
import time

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.exc import DBAPIError
from sqlmodel import Session

from db.engine import session_scope
from db.models import Asn, Opd, table
from db.roster.opd import ensure_opd


def test_readonly_session_does_not_block_a_concurrent_writer(engine: Engine) -> None:
    with session_scope(engine) as session:
        ensure_opd(session, "DINKES", "Dinas Kesehatan")
    opd = table(Opd)
    with session_scope(engine, readonly=True) as reader:
        before = reader.connection().execute(select(opd.c.kode)).scalars().all()
        assert before == ["DINKES"]  # the read transaction is open from here on

        def write() -> None:
            with session_scope(engine) as writer:
                ensure_opd(writer, "DISDIK", "Dinas Pendidikan")

        began = time.perf_counter()
        worker = threading.Thread(target=write)
        worker.start()
        worker.join(timeout=10)
        assert not worker.is_alive(), "the writer waited for the reader"
        assert time.perf_counter() - began < 5
        if engine.dialect.name == "sqlite":  # (PostgreSQL reads committed, per statement)
            # Still the reader's snapshot: it neither blocked the writer nor saw it.
            again = reader.connection().execute(select(opd.c.kode)).scalars().all()
            assert again == ["DINKES"]
    with session_scope(engine, readonly=True) as reader:
        after = reader.connection().execute(select(opd.c.kode).order_by(opd.c.kode))
        assert after.scalars().all() == ["DINKES", "DISDIK"]


def test_readonly_sessions_run_beside_an_open_write_transaction(engine: Engine) -> None:
    with session_scope(engine) as session:
        ensure_opd(session, "DINKES", "Dinas Kesehatan")
    opd = table(Opd)
    with session_scope(engine) as writer:
        ensure_opd(writer, "DISDIK", "Dinas Pendidikan")  # holds SQLite's write lock
        writer.flush()
        seen: list[list[str]] = []

        def read() -> None:
            with session_scope(engine, readonly=True) as reader:
                seen.append(list(reader.connection().execute(select(opd.c.kode)).scalars()))

        worker = threading.Thread(target=read)
        worker.start()
        worker.join(timeout=10)
        assert not worker.is_alive(), "the reader waited for the writer"
        assert seen == [["DINKES"]]


def test_readonly_session_refuses_writes_on_postgresql(engine: Engine) -> None:
    if engine.dialect.name != "postgresql":
        pytest.skip("SQLite has no read-only transactions; PostgreSQL catches the mistake")
    binds = []
    for _ in range(2):  # the read-only bind is made once per engine and stays read-only
        with (
            pytest.raises(DBAPIError, match="read-only transaction"),
            session_scope(engine, readonly=True) as session,
        ):
            binds.append(session.get_bind())
            ensure_opd(session, "DINKES", "Dinas Kesehatan")
            session.flush()
    assert binds[0] is binds[1] and binds[0] is not engine
    with Session(engine) as session:  # and the connection went back to the pool writable
        ensure_opd(session, "DINKES", "Dinas Kesehatan")
        session.commit()


def test_database_errors_never_carry_the_statement_parameters(engine: Engine) -> None:
    """Error messages end up in logs: a failed insert must not spell out a name or a NIP."""
    from sqlalchemy.exc import IntegrityError

    from tests.factories import add_asn

    with Session(engine) as session:
        asn = add_asn(session, nama="Siti Rahasia Aminah")
        session.commit()
        nip, opd_id = asn.nip, asn.opd_id
    with Session(engine) as session, pytest.raises(IntegrityError) as caught:
        session.add(Asn(nip=nip, nama="Siti Rahasia Aminah", opd_id=opd_id))
        session.flush()
    message = str(caught.value)
    assert "parameters hidden" in message
    assert nip not in message and "Rahasia" not in message


def test_a_statement_past_the_timeout_is_cancelled_as_unreachable(database_url: str) -> None:
    """A stuck query ends in an error the API answers with 503, instead of holding a request."""
    from sqlalchemy import text

    from db.engine import make_engine, unreachable

    if not database_url.startswith("postgresql"):
        pytest.skip("statement timeouts are PostgreSQL's")
    engine = make_engine(database_url, statement_timeout=0.2)
    try:
        with engine.connect() as conn, pytest.raises(DBAPIError) as caught:
            conn.execute(text("SELECT pg_sleep(2)"))
        assert unreachable(caught.value) and "57014" in str(caught.value)  # query_canceled
        with engine.connect() as conn:  # the connection is fine for the next statement
            assert conn.execute(text("SELECT 1")).scalar_one() == 1
    finally:
        engine.dispose()


def test_a_server_that_never_answers_is_given_up_after_the_connect_timeout() -> None:
    """A PostgreSQL host that takes the connection and then says nothing (a half-dead server,
    a firewall that drops replies) fails the connect in ``connect_timeout`` seconds, as an
    error the API answers with 503, instead of holding every request that needs it."""
    import socket

    from db.engine import make_engine, unreachable

    silent = socket.create_server(("127.0.0.1", 0))
    held: list[socket.socket] = []
    stop = threading.Event()

    def hold() -> None:  # accept, never answer; let go after 10 s so nothing hangs for ever
        silent.settimeout(0.1)
        while not stop.wait(0):
            try:
                held.append(silent.accept()[0])
            except TimeoutError:
                continue
        for conn in held:
            conn.close()

    holder = threading.Thread(target=hold)
    holder.start()
    threading.Timer(10, stop.set).start()
    port = silent.getsockname()[1]
    engine = make_engine(f"postgresql://gaung:x@127.0.0.1:{port}/gaung", connect_timeout=1)
    try:
        started = time.monotonic()
        with pytest.raises(DBAPIError) as caught, engine.connect():
            pass
        elapsed = time.monotonic() - started
    finally:
        stop.set()
        holder.join()
        silent.close()
        engine.dispose()
    assert held, "the client reached the silent server"
    assert elapsed < 5, f"gave up after {elapsed:.1f} s"
    assert unreachable(caught.value)
