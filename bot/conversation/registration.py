"""Becoming a recipient: /start and consent, a shared contact, a typed NIP, an admin's decision."""

from __future__ import annotations

import html
from dataclasses import dataclass
from datetime import datetime
from typing import TypedDict

from sqlmodel import Session

from bot.conversation import choices
from bot.conversation.people import admin_of, tell_admins
from bot.conversation.replies import Address, Button, Notice, Outcome, Person, Reply, one, say
from bot.texts import Markup
from db.accounts.identities import opt_in
from db.accounts.limits import Limit, spend, subject_of
from db.accounts.registration import (
    Registration,
    Result,
    asn_by_phone,
    asn_for_account,
    decide_request,
    register_by_contact,
    request_by_nip,
    waiting_requests,
)
from db.errors import GaungError
from db.models import Asn, Opd, Role

RESULT_TEXT = {
    Result.REGISTERED: "reg.registered",
    Result.ALREADY: "reg.already",
    Result.NOT_OWN_CONTACT: "reg.not_own_contact",
    Result.NOT_IN_ROSTER: "reg.not_in_roster",
    Result.INACTIVE: "reg.inactive",
    Result.OTHER_ACCOUNT: "reg.other_account",
    Result.ACCOUNT_TAKEN: "reg.account_taken",
    Result.INVALID: "reg.invalid",
    Result.PENDING: "reg.pending",
}


class Account(TypedDict):
    """The keywords that name a person's chat account to ``db.accounts.registration``."""

    channel: str
    external_id: str
    chat_id: str


def account(person: Person) -> Account:
    return Account(channel=person.channel, external_id=person.external_id, chat_id=person.chat_id)


def registration_text(person: Person | str, outcome: Registration) -> Markup:
    key = RESULT_TEXT.get(outcome.result)
    if key is None:  # REQUESTED
        key = "reg.requested" if outcome.notify_admins else "reg.requested_no_admin"
    return say(
        person,
        key,
        nama=outcome.asn.nama if outcome.asn else "",
        opd=outcome.opd.nama if outcome.opd else "",
        detail=outcome.detail or "",
    )


def start(session: Session, person: Person, *, months: int = 12) -> Outcome:
    """A registered ASN is welcomed back (and opted in again); anyone else gets the consent
    text and the control that shares their own number. (``flows.handle`` has already marked
    the account as writing to us.) The consent text states the retention period in force
    (``months``, ``GAUNG_RETENTION_MONTHS``), not a number written into the catalogue."""
    asn = asn_for_account(session, person.channel, person.external_id)
    if asn is None:
        vouched = person.phone is not None
        if person.phone is not None and asn_by_phone(session, person.phone) is None:
            # Nothing to agree to: say whom to ask, and that a typed NIP can still be checked.
            greeting = say(person, "start.greeting")
            refusal = say(person, "reg.not_in_roster", detail=person.phone)
            return one(Markup(f"{greeting}\n\n{refusal}"))
        how = "start.how_agree" if vouched else "start.how"
        parts = ("start.greeting", "start.consent", how)
        text = Markup("\n\n".join(say(person, key, bulan=months) for key in parts))
        if vouched:  # the network vouches for the number: agreeing is enough
            agree = Button(
                say(person, "button.agree"), choices.encode(choices.CONSENT, choices.AGREE)
            )
            return one(text, (agree,))
        return one(text, ask_contact=True)
    resumed = asn.opted_out_at is not None
    opt_in(session, asn)
    opd = session.get(Opd, asn.opd_id)
    key = "start.resumed" if resumed else "start.registered"
    return one(say(person, key, nama=asn.nama, opd=opd.nama if opd else ""), close_keyboard=True)


def contact(session: Session, person: Person, phone: str, owner: str | None) -> Outcome:
    """A shared contact registers its owner when it is the sender's own and in the roster."""
    outcome = register_by_contact(session, **account(person), phone=phone, contact_user_id=owner)
    done = outcome.result in (Result.REGISTERED, Result.ALREADY)
    return one(registration_text(person, outcome), close_keyboard=done)


def agree(session: Session, person: Person) -> Outcome:
    """*Setuju* under the consent text: the number the network vouches for registers its owner,
    exactly as a shared contact of one's own does elsewhere."""
    if person.phone is None:
        return one(say(person, "reg.not_own_contact"))
    outcome = register_by_contact(
        session, **account(person), phone=person.phone, contact_user_id=person.external_id
    )
    return one(registration_text(person, outcome), replace=True)


def unregistered(session: Session, person: Person) -> bool:
    """Whether this account is nobody's yet (neither an ASN's nor an admin's)."""
    return asn_for_account(session, person.channel, person.external_id) is None and (
        admin_of(session, person) is None
    )


@dataclass(frozen=True)
class Limits:
    nip: Limit  # NIPs one chat account may type
    pages: Limit  # NIP-request pages to one OPD's admins


# Whatever a typed NIP finds, the typist hears the same words: a stranger must not learn from
# Gaung whether a NIP exists, whose it is, or where they work.
NEUTRAL = (
    Result.REQUESTED,
    Result.PENDING,
    Result.NOT_IN_ROSTER,
    Result.INACTIVE,
    Result.OTHER_ACCOUNT,
)


def nip(session: Session, person: Person, text: str, limits: Limits, *, now: datetime) -> Outcome:
    """A typed NIP puts a request before the OPD's admins, with Approve / Reject buttons.

    An account already registered hears its own registration, whatever it typed; anyone else
    hears one neutral answer. Tries are counted per account, pages per OPD: over the page
    allowance the request still waits, in the admins' /permintaan list.
    """
    mine = asn_for_account(session, person.channel, person.external_id)
    if mine is not None:
        opd = session.get(Opd, mine.opd_id)
        return one(say(person, "reg.already", nama=mine.nama, opd=opd.nama if opd else ""))
    who = subject_of(person.channel, person.external_id)
    if not spend(session, limits.nip, who, now=now):
        return one(say(person, "reg.nip_limit", max=limits.nip.allowed))
    outcome = request_by_nip(session, **account(person), nip=text, now=now)
    if outcome.result not in NEUTRAL:
        return one(registration_text(person, outcome))
    result = one(say(person, "reg.nip_received"))
    request, asn = outcome.request, outcome.asn
    if outcome.result != Result.REQUESTED or request is None or request.id is None or asn is None:
        return result
    if spend(session, limits.pages, f"opd:{asn.opd_id}", now=now):
        ask = request_card(person, asn, request.id, person.name or person.external_id)
        result.notices = tell_admins(session, outcome.notify_admins, ask)
    return result


def request_card(person: Person | str, asn: Asn, request_id: int, who: str) -> Reply:
    """A NIP request as an admin sees it: who asks for which ASN, and the two choices."""
    return Reply(
        say(
            person,  # names the requester's network
            "admin.reg_request",
            nama=asn.nama,
            nip=asn.nip,
            jabatan=asn.jabatan or "-",
            who=who,
        ),
        (
            (
                Button(
                    say(person, "button.approve"),
                    choices.encode(choices.REGISTRATION, choices.APPROVE, request_id),
                ),
                Button(
                    say(person, "button.reject"),
                    choices.encode(choices.REGISTRATION, choices.REJECT, request_id),
                ),
            ),
        ),
    )


def pending_requests(session: Session, person: Person, *, most: int = 10) -> Outcome:
    """/permintaan: the NIP requests waiting for this admin (their OPD; Diskominfo: all), oldest
    first, each with its choices, so none is lost when pages were held back."""
    admin = admin_of(session, person)
    if admin is None:
        return one(say(person, "report.not_admin"))
    waiting = waiting_requests(session, opd_id=admin.opd_id if admin.role == Role.OPD else None)
    if not waiting:
        return one(say(person, "admin.no_requests"))
    replies = [
        Reply(say(person, "admin.requests", count=len(waiting), shown=min(most, len(waiting))))
    ]
    for request, asn in waiting[:most]:
        assert request.id is not None
        who = say(request.channel, "admin.requester", kanal_id=request.external_id)
        replies.append(request_card(request.channel, asn, request.id, who))
    return Outcome(replies)


def decide(session: Session, person: Person, request_id: int, *, approve: bool) -> Outcome:
    """An OPD admin's Approve / Reject on a NIP request; the ASN hears the decision."""
    admin = admin_of(session, person)
    if admin is None:
        return one(say(person, "report.not_admin"), replace=True)
    try:
        request, asn, outcome = decide_request(session, request_id, admin=admin, approve=approve)
    except GaungError as exc:
        detail = html.escape(exc.message, quote=False)
        return one(Markup(f"{say(person, 'admin.decided_already')} ({detail})"), replace=True)
    asker = Address(request.channel, request.external_id, request.chat_id)
    if not approve:
        answer, notice = (
            say(person, "admin.reg_rejected", nama=asn.nama),
            say(asker.channel, "reg.rejected"),
        )
    else:
        assert outcome is not None
        answer = say(person, "admin.reg_approved", nama=asn.nama)
        notice = (
            say(
                asker.channel,
                "reg.approved",
                nama=asn.nama,
                opd=outcome.opd.nama if outcome.opd else "",
            )
            if outcome.result == Result.REGISTERED
            else registration_text(asker.channel, outcome)
        )
    return Outcome([Reply(answer, replace=True)], [Notice(asker, Reply(notice))])
