"""Admins: Diskominfo staff (see everything, approve posts) and OPD social-media admins.

An admin is a person with chat accounts (``AdminIdentity``), one per channel: Gaung recognises
them by the account they write from and tells them things on every account they have.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlmodel import Session, col, select

from db.accounts.audit import record
from db.errors import Invalid
from db.models import Admin, AdminIdentity, Channel, Role
from db.roster.opd import opd_by_kode
from db.roster.phones import InvalidPhone, normalize_phone


def add_admin(
    session: Session,
    *,
    role: str,
    opd_kode: str | None = None,
    telegram_id: int | None = None,
    phone: str | None = None,
    name: str | None = None,
    actor: str = "cli",
) -> tuple[Admin, bool]:
    """Make someone an admin, or change the role of one who already is. Returns (admin, created).

    ``telegram_id`` becomes their Telegram account; ``phone`` their WhatsApp account (WhatsApp
    names an account by the number's digits)."""
    role = _role(role, opd_kode)
    if (telegram_id is None) == (phone is None):
        raise Invalid("sebutkan tepat satu: --telegram-id atau --phone")
    if telegram_id is not None and telegram_id <= 0:
        raise Invalid("telegram id harus bilangan bulat positif")
    if phone is not None:
        try:
            phone = normalize_phone(phone)
        except InvalidPhone as exc:
            raise Invalid(str(exc)) from None
    if telegram_id is not None:
        channel, external_id = Channel.TELEGRAM.value, str(telegram_id)
    else:
        assert phone is not None
        channel, external_id = Channel.WHATSAPP.value, phone.lstrip("+")
    opd_id = opd_by_kode(session, opd_kode).id if opd_kode else None
    identity = _identity(session, channel, external_id)
    admin = session.get(Admin, identity.admin_id) if identity is not None else None
    created = admin is None
    if admin is None:
        admin = Admin(role=role, opd_id=opd_id, name=name)
        session.add(admin)
        session.flush()
        assert admin.id is not None
        session.add(
            AdminIdentity(
                admin_id=admin.id, channel=channel, external_id=external_id, chat_id=external_id
            )
        )
    else:
        admin.role, admin.opd_id, admin.active = role, opd_id, True
        admin.name = name or admin.name
        session.add(admin)
    session.flush()
    record(
        session,
        actor,
        "admin.add" if created else "admin.update",
        f"admin:{admin.id}",
        role=role,
        opd=opd_kode,
        telegram_id=telegram_id,
        phone=phone,
    )
    return admin, created


def _role(role: str, opd_kode: str | None) -> str:
    if role not in (Role.DISKOMINFO, Role.OPD):
        raise Invalid("peran harus diskominfo atau opd")
    if role == Role.OPD and not opd_kode:
        raise Invalid("admin OPD butuh --opd KODE")
    if role == Role.DISKOMINFO and opd_kode:
        # Refused rather than ignored: Diskominfo sees every OPD, and printing an OPD that
        # is not applied would let an operator believe the key or admin is narrowed to it.
        raise Invalid(
            f"peran diskominfo berlaku untuk semua OPD, tanpa --opd ({opd_kode}); "
            "untuk satu OPD pakai --role opd"
        )
    return role


def _identity(session: Session, channel: str, external_id: str) -> AdminIdentity | None:
    return session.exec(
        select(AdminIdentity).where(
            AdminIdentity.channel == channel, AdminIdentity.external_id == external_id
        )
    ).first()


def admin_for_account(session: Session, channel: str, external_id: str) -> Admin | None:
    """The active admin who writes from this chat account, if any."""
    return session.exec(
        select(Admin)
        .join(AdminIdentity, col(AdminIdentity.admin_id) == col(Admin.id))
        .where(
            AdminIdentity.channel == channel,
            AdminIdentity.external_id == external_id,
            Admin.active == True,  # noqa: E712
        )
    ).first()


def admin_accounts(session: Session, admin_ids: Iterable[int]) -> list[AdminIdentity]:
    """Every chat account of these admins: where to tell them something."""
    ids = sorted(set(admin_ids))
    if not ids:
        return []
    return list(
        session.exec(
            select(AdminIdentity)
            .where(col(AdminIdentity.admin_id).in_(ids))
            .order_by(col(AdminIdentity.admin_id), col(AdminIdentity.channel))
        )
    )


def reachable_admins(session: Session, *, role: str, opd_id: int | None = None) -> list[Admin]:
    """Active admins of a role (of one OPD, for OPD admins) with at least one chat account."""
    query = select(Admin).where(
        Admin.active == True,  # noqa: E712
        Admin.role == role,
        col(Admin.id).in_(select(AdminIdentity.admin_id)),
    )
    if opd_id is not None:
        query = query.where(Admin.opd_id == opd_id)
    return list(session.exec(query.order_by(col(Admin.id))))


def check_role(role: str, opd_kode: str | None) -> str:
    return _role(role, opd_kode)
