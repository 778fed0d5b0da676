"""/status, /bantuan, /berhenti, /hapus (with its confirmation), /laporan, /dashboard, and
whatever Gaung does not understand."""

from __future__ import annotations

from datetime import timedelta

from sqlmodel import Session

from bot.conversation import choices
from bot.conversation.people import admin_of
from bot.conversation.replies import Button, Outcome, Person, one, say
from bot.texts import Markup
from db.accounts.identities import identity_for, mark_inbound, opt_out
from db.accounts.registration import asn_for_account, erase_account, set_reachable
from db.accounts.signing import dashboard_link
from db.errors import GaungError
from db.models import Opd, Role
from db.posts.clarification import mark_clarification
from db.reporting.dashboard import ADMIN, subject_of
from db.reporting.participation import asn_summary, participation
from db.reporting.window import Window
from db.types import utcnow

DAYS = 30  # what /status and /laporan look back over


def touch(session: Session, person: Person) -> None:
    """The person wrote to us: reachable again, and their messaging window restarts."""
    identity = identity_for(session, person.channel, person.external_id)
    if identity is not None:
        mark_inbound(session, identity)


def reachable(session: Session, person: Person, yes: bool, reason: str | None = None) -> None:
    """The network says the person blocked (or unblocked) Gaung."""
    set_reachable(session, person.channel, person.external_id, yes, reason)


def status(session: Session, person: Person) -> Outcome:
    asn = asn_for_account(session, person.channel, person.external_id)
    if asn is None or asn.id is None:
        return one(say(person, "status.unregistered"))
    now = utcnow()
    delivered, liked, shared = asn_summary(session, asn.id, Window(now - timedelta(DAYS), now))
    opd = session.get(Opd, asn.opd_id)
    state = say(person, "status.stopped" if asn.opted_out_at else "status.active")
    return one(
        say(
            person,
            "status.body",
            nama=asn.nama,
            nip=asn.nip,
            opd=opd.nama if opd else "",
            state=state,
            delivered=delivered,
            liked=liked,
            shared=shared,
        )
    )


def help_text(session: Session, person: Person) -> Outcome:
    admin = admin_of(session, person)
    extra = say(person, "help.admin") if admin is not None else ""
    if admin is not None and admin.role == Role.DISKOMINFO:
        extra = Markup(extra + say(person, "help.diskominfo"))
    return one(Markup(say(person, "help") + extra))


def stop(session: Session, person: Person) -> Outcome:
    asn = asn_for_account(session, person.channel, person.external_id)
    if asn is None:
        return one(say(person, "stop.unregistered"))
    opt_out(session, asn)
    return one(say(person, "stop.done"))


def erase_prompt(person: Person) -> Outcome:
    return one(
        say(person, "erase.confirm"),
        (
            Button(say(person, "button.erase_yes"), choices.encode(choices.ERASE, choices.YES)),
            Button(say(person, "button.erase_no"), choices.encode(choices.ERASE, choices.NO)),
        ),
    )


def erase_answer(session: Session, person: Person, action: str) -> Outcome:
    if action != choices.YES:
        return one(say(person, "erase.kept"), replace=True)
    erased = erase_account(session, person.channel, person.external_id)
    return one(say(person, "erase.done" if erased else "erase.nothing"), replace=True)


def _pct(value: float) -> str:
    return f"{value:.1%}".replace(".", ",")


def report(session: Session, person: Person) -> Outcome:
    """/laporan: an OPD admin sees their OPD; Diskominfo sees the total and the top five."""
    admin = admin_of(session, person)
    if admin is None:
        return one(say(person, "report.not_admin"))
    now = utcnow()
    window = Window(now - timedelta(days=DAYS), now)
    own = admin.opd_id if admin.role == Role.OPD else None
    result = participation(session, window, opd_ids=[own] if own is not None else None)
    total = result.total
    scope = f" — {result.rows[0].nama}" if own is not None and result.rows else " — semua OPD"
    text = say(
        person,
        "report.body",
        scope=scope,
        registered=total.asn_registered,
        roster=total.asn_roster,
        reg_rate=_pct(total.registration_rate),
        delivered=total.delivered,
        liked=total.liked,
        shared=total.shared,
        participation_rate=_pct(total.participation_rate),
    )
    if own is None:
        ranked = sorted(
            (r for r in result.rows if r.counts.delivered),
            key=lambda r: -r.counts.participation_rate,
        )[:5]
        lines = "\n".join(
            f"{i}. {r.kode} {_pct(r.counts.participation_rate)}" for i, r in enumerate(ranked, 1)
        )
        if lines:
            text = Markup(text + say(person, "report.top", lines=lines))
    return one(text)


def dashboard(
    session: Session, person: Person, public_url: str | None, signing_key: bytes | None
) -> Outcome:
    """/dashboard: a sign-in link for an admin, good once within 15 minutes, sent unpreviewed."""
    admin = admin_of(session, person)
    if admin is None or admin.id is None:
        return one(say(person, "report.not_admin"))
    if not public_url or signing_key is None:
        return one(say(person, "dashboard.no_url"))
    subject = subject_of(ADMIN, admin.id)
    token = dashboard_link(session, signing_key, subject=subject, now=utcnow())
    url = f"{public_url}/dashboard/masuk?token={token}"
    return one(say(person, "dashboard.link", url=url), no_preview=True)


def clarify(session: Session, person: Person, args: str) -> Outcome:
    """/klarifikasi ID (Diskominfo admins): the post's queued sends go first, its reminder
    comes sooner, and its reach recap follows an hour after approval."""
    admin = admin_of(session, person)
    if admin is None or admin.role != Role.DISKOMINFO:
        return one(say(person, "clarify.not_diskominfo"))
    number = args.strip().lstrip("#")
    if not number.isdigit() or not 0 < int(number) < 2**31:
        return one(say(person, "clarify.usage"))
    post_id = int(number)
    try:
        _, new = mark_clarification(session, post_id, actor=f"admin:{admin.id}")
    except GaungError as exc:
        return one(say(person, "clarify.refused", id=post_id, detail=exc.message))
    return one(say(person, "clarify.done" if new else "clarify.already", id=post_id))


def unknown(person: Person) -> Outcome:
    return one(say(person, "unknown"))
