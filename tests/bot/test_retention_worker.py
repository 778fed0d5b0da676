"""``gaung worker`` runs the retention purge with the period ``GAUNG_RETENTION_MONTHS`` sets
(issue 12): a real worker process on a database holding someone who left the roster eight
months ago. ``tests/db/accounts/test_retention.py`` checks what the purge removes and keeps;
this checks that the deployed worker does it, with the operator's period."""

from __future__ import annotations

import signal
import time
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine
from sqlmodel import select

from bot.emulators.telegram import TelegramEmulator
from db.delivery.outbox import mark_sent
from db.engine import session_scope
from db.models import Asn, AuditLog, ChatIdentity, Delivery
from db.posts.lifecycle import approve_post, submit_post
from db.types import utcnow
from tests.bot.test_broadcast import _worker
from tests.factories import add_asn, delivery_of, register


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)  # the purge's SQL: both
def test_gaung_worker_purges_with_the_configured_period(
    engine: Engine, tg: TelegramEmulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with session_scope(engine) as session:
        gone = add_asn(session, opd="DINKES", nama="Pergi")
        register(session, gone)
        post = submit_post(session, opd_kode="DINKES", url="https://instagram.com/p/lama")
        assert post.id is not None
        approve_post(session, post.id, now=utcnow() - timedelta(days=300))
        mark_sent(session, delivery_of(session, post.id, gone), "m-1")
        gone.active, gone.left_at = False, utcnow() - timedelta(days=240)  # 8 months
        session.add(gone)
        gone_id = gone.id

    def purged() -> bool:
        with session_scope(engine, readonly=True) as session:
            return not session.exec(select(Delivery).where(Delivery.asn_id == gone_id)).all()

    monkeypatch.setenv("GAUNG_RETENTION_MONTHS", "6")  # the default 12 would keep it
    worker = _worker(engine.url.render_as_string(hide_password=False), tg, tmp_path)
    try:
        deadline = time.monotonic() + 60
        while not purged():
            assert worker.poll() is None, (tmp_path / "worker.log").read_text()
            assert time.monotonic() < deadline, "gaung worker did not purge within 60 s"
            time.sleep(0.2)
    finally:
        worker.send_signal(signal.SIGTERM)
        worker.wait(timeout=60)
    with session_scope(engine, readonly=True) as session:
        assert session.exec(select(ChatIdentity).where(ChatIdentity.asn_id == gone_id)).all() == []
        assert session.get(Asn, gone_id) is not None  # the roster record stays
        actions = session.exec(select(AuditLog.actor, AuditLog.action)).all()
        assert ("worker", "retention.purge") in actions
