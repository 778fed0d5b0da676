"""Admins are people with chat accounts: ``admin add`` makes one, migration 0006 carries the
old ``telegram_id`` / ``phone`` columns over into ``admin_identity``."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine, inspect, text
from sqlmodel import Session, select

from db.accounts.admins import add_admin, admin_accounts, admin_for_account, reachable_admins
from db.errors import Invalid
from db.migrate import downgrade, upgrade
from db.models import AdminIdentity, Role
from tests.factories import add_asn


def test_add_admin_by_telegram_id_or_phone_makes_one_account_each(session: Session) -> None:
    add_asn(session, opd="DINKES")
    tg, created = add_admin(session, role="opd", opd_kode="DINKES", telegram_id=501)
    wa, _ = add_admin(session, role="diskominfo", phone="0812-3456-7890")
    assert created
    rows = sorted(
        (i.admin_id, i.channel, i.external_id, i.chat_id)
        for i in session.exec(select(AdminIdentity))
    )
    assert rows == [
        (tg.id, "telegram", "501", "501"),
        (wa.id, "whatsapp", "6281234567890", "6281234567890"),
    ]
    assert admin_for_account(session, "telegram", "501") == tg
    assert admin_for_account(session, "whatsapp", "6281234567890") == wa
    assert admin_for_account(session, "whatsapp", "501") is None


def test_adding_the_same_account_again_changes_the_role_not_the_person(session: Session) -> None:
    add_asn(session, opd="DINKES")
    first, _ = add_admin(session, role="opd", opd_kode="DINKES", telegram_id=77)
    again, created = add_admin(session, role="diskominfo", telegram_id=77)
    assert not created and again.id == first.id and again.role == Role.DISKOMINFO
    assert len(session.exec(select(AdminIdentity)).all()) == 1


def test_exactly_one_account_is_required(session: Session) -> None:
    with pytest.raises(Invalid):
        add_admin(session, role="diskominfo")
    with pytest.raises(Invalid):
        add_admin(session, role="diskominfo", telegram_id=1, phone="081234567890")


def test_inactive_admins_are_not_recognised_nor_told(session: Session) -> None:
    add_asn(session, opd="DINKES")
    admin, _ = add_admin(session, role="opd", opd_kode="DINKES", telegram_id=9)
    assert admin.id is not None
    assert reachable_admins(session, role=Role.OPD, opd_id=admin.opd_id) == [admin]
    assert [i.external_id for i in admin_accounts(session, [admin.id])] == ["9"]
    admin.active = False
    session.add(admin)
    session.flush()
    assert admin_for_account(session, "telegram", "9") is None
    assert reachable_admins(session, role=Role.OPD, opd_id=admin.opd_id) == []


def test_migration_0006_carries_telegram_ids_and_phones_over_and_back(engine: Engine) -> None:
    downgrade(engine, "0005")
    with engine.begin() as conn:
        conn.execute(
            text("INSERT INTO opd (id, kode, nama, created_at) VALUES (1, 'DINKES', 'D', :t)"),
            {"t": "2026-11-01 00:00:00+00:00"},
        )
        conn.execute(
            text(
                "INSERT INTO admin (id, role, opd_id, telegram_id, phone, active, created_at) "
                "VALUES (1, 'opd', 1, 9000000001, NULL, true, :t), "
                "(2, 'diskominfo', NULL, NULL, '+6281234567890', true, :t), "
                "(3, 'diskominfo', NULL, 42, '+6285600000001', true, :t)"
            ),
            {"t": "2026-11-01 00:00:00+00:00"},
        )
        conn.execute(  # a post that points at an admin: rebuilding ``admin`` must keep it
            text(
                "INSERT INTO post (id, opd_id, url, platform, status, target_all, submitted_by, "
                "submitted_at) "
                "VALUES (1, 1, 'https://x.com/a/status/1', 'x', 'submitted', true, 1, :t)"
            ),
            {"t": "2026-11-01 00:00:00+00:00"},
        )
    upgrade(engine)
    with engine.connect() as conn:
        assert conn.execute(text("SELECT submitted_by FROM post")).scalar() == 1
        rows = conn.execute(
            text("SELECT admin_id, channel, external_id, chat_id FROM admin_identity")
        ).all()
    assert sorted(map(tuple, rows)) == [
        (1, "telegram", "9000000001", "9000000001"),
        (2, "whatsapp", "6281234567890", "6281234567890"),
        (3, "telegram", "42", "42"),
        (3, "whatsapp", "6285600000001", "6285600000001"),
    ]
    assert {"telegram_id", "phone"}.isdisjoint(
        c["name"] for c in inspect(engine).get_columns("admin")
    )
    downgrade(engine, "0005")
    with engine.connect() as conn:
        back = conn.execute(text("SELECT id, telegram_id, phone FROM admin ORDER BY id")).all()
    assert [tuple(r) for r in back] == [
        (1, 9000000001, None),
        (2, None, "+6281234567890"),
        (3, 42, "+6285600000001"),
    ]
    upgrade(engine)
