"""Whom to tell: the chat accounts of admins, and the admin behind an account."""

from __future__ import annotations

from collections.abc import Iterable

from sqlmodel import Session

from bot.conversation.replies import Address, Notice, Person, Reply
from db.accounts.admins import admin_accounts, admin_for_account
from db.errors import GaungError
from db.models import Admin, Opd
from db.roster.opd import opd_by_kode


def admin_of(session: Session, person: Person) -> Admin | None:
    return admin_for_account(session, person.channel, person.external_id)


def admin_opd(session: Session, admin: Admin) -> Opd | None:
    """The OPD an admin submits for: their own, or Diskominfo's for Diskominfo staff."""
    if admin.opd_id is not None:
        return session.get(Opd, admin.opd_id)
    try:
        return opd_by_kode(session, "DISKOMINFO")
    except GaungError:
        return None


def tell_admins(session: Session, admins: Iterable[Admin], reply: Reply) -> list[Notice]:
    """One notice per chat account of each admin: they hear it on every channel they have."""
    ids = [a.id for a in admins if a.id is not None]
    return [
        Notice(Address(i.channel, i.external_id, i.chat_id), reply)
        for i in admin_accounts(session, ids)
    ]
