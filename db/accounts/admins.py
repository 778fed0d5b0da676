"""Admins: Diskominfo staff (see everything, approve posts) and OPD social-media admins."""

from __future__ import annotations

from sqlmodel import Session, or_, select

from db.accounts.audit import record
from db.errors import Invalid
from db.models import Admin, Role
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
    """Make someone an admin, or change the role of one who already is. Returns (admin, created)."""
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
    opd_id = opd_by_kode(session, opd_kode).id if opd_kode else None
    clauses = []
    if telegram_id is not None:
        clauses.append(Admin.telegram_id == telegram_id)
    if phone is not None:
        clauses.append(Admin.phone == phone)
    admin = session.exec(select(Admin).where(or_(*clauses))).first()
    created = admin is None
    if admin is None:
        admin = Admin(role=role, opd_id=opd_id, telegram_id=telegram_id, phone=phone, name=name)
        session.add(admin)
    else:
        admin.role, admin.opd_id, admin.active = role, opd_id, True
        admin.name = name or admin.name
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


def admin_by_telegram_id(session: Session, telegram_id: int) -> Admin | None:
    return session.exec(
        select(Admin).where(Admin.telegram_id == telegram_id, Admin.active == True)  # noqa: E712
    ).first()


def check_role(role: str, opd_kode: str | None) -> str:
    return _role(role, opd_kode)
