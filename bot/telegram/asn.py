"""The ASN side: /start and consent, registration, taps, /status, /berhenti, /hapus."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from sqlmodel import Session
from telegram import (
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    KeyboardButton,
    ReplyKeyboardMarkup,
    ReplyKeyboardRemove,
    Update,
)

from bot.channels.telegram import parse_callback
from bot.telegram.common import CHANNEL, Context, in_db, notify, reply, sender
from bot.texts import Html, th
from db.accounts.identities import identity_for, mark_inbound, opt_out
from db.accounts.registration import (
    Registration,
    Result,
    asn_for_account,
    erase_account,
    register_by_contact,
    request_by_nip,
    set_reachable,
)
from db.delivery.confirmations import Tap, TapOutcome, TapResult, record_taps
from db.models import Opd
from db.reporting.participation import asn_summary
from db.reporting.window import Window
from db.types import utcnow

ANSWER_WITHIN = 2.0  # seconds before a tap is answered "being recorded"
CONTACT_KEYBOARD = ReplyKeyboardMarkup(
    [[KeyboardButton(th("button.share_contact"), request_contact=True)]],
    resize_keyboard=True,
    one_time_keyboard=True,
)


def registration_text(outcome: Registration) -> str:
    names = {
        "nama": outcome.asn.nama if outcome.asn else "",
        "opd": outcome.opd.nama if outcome.opd else "",
        "detail": outcome.detail or "",
    }
    key = {
        Result.REGISTERED: "reg.registered",
        Result.ALREADY: "reg.already",
        Result.NOT_OWN_CONTACT: "reg.not_own_contact",
        Result.NOT_IN_ROSTER: "reg.not_in_roster",
        Result.INACTIVE: "reg.inactive",
        Result.OTHER_ACCOUNT: "reg.other_account",
        Result.ACCOUNT_TAKEN: "reg.account_taken",
        Result.INVALID: "reg.invalid",
        Result.PENDING: "reg.pending",
        Result.REQUESTED: "reg.requested" if outcome.notify_admins else "reg.requested_no_admin",
    }[outcome.result]
    return th(key, **names)


async def start(update: Update, context: Context) -> None:
    who = sender(update)
    if who is None:
        return
    user_id, _ = who

    def work(session: Session) -> tuple[str, str, bool] | None:
        asn = asn_for_account(session, CHANNEL, user_id)
        identity = identity_for(session, CHANNEL, user_id)
        if asn is None or identity is None:
            return None
        mark_inbound(session, identity)
        resumed = asn.opted_out_at is not None
        asn.opted_out_at = None
        session.add(asn)
        opd = session.get(Opd, asn.opd_id)
        return asn.nama, opd.nama if opd else "", resumed

    known = await in_db(context, work)
    if known is not None:
        nama, opd, resumed = known
        key = "start.resumed" if resumed else "start.registered"
        await reply(update, th(key, nama=nama, opd=opd), reply_markup=ReplyKeyboardRemove())
        return
    text = "\n\n".join([th("start.greeting"), th("start.consent"), th("start.how")])
    await reply(update, text, reply_markup=CONTACT_KEYBOARD)


async def contact(update: Update, context: Context) -> None:
    who, message = sender(update), update.effective_message
    if who is None or message is None or message.contact is None:
        return
    user_id, chat_id = who
    shared = message.contact
    owner = str(shared.user_id) if shared.user_id is not None else None
    outcome = await in_db(
        context,
        lambda s: register_by_contact(
            s,
            channel=CHANNEL,
            external_id=user_id,
            chat_id=chat_id,
            phone=shared.phone_number,
            contact_user_id=owner,
        ),
    )
    markup = (
        ReplyKeyboardRemove() if outcome.result in (Result.REGISTERED, Result.ALREADY) else None
    )
    await reply(update, registration_text(outcome), reply_markup=markup)


async def nip(update: Update, context: Context, text: str) -> None:
    who = sender(update)
    if who is None:
        return
    user_id, chat_id = who
    outcome = await in_db(
        context,
        lambda s: request_by_nip(
            s, channel=CHANNEL, external_id=user_id, chat_id=chat_id, nip=text
        ),
    )
    if outcome.result == Result.NOT_IN_ROSTER:
        await reply(update, th("reg.nip_not_in_roster", detail=outcome.detail or ""))
        return
    await reply(update, registration_text(outcome))
    if outcome.result == Result.REQUESTED and outcome.request is not None and outcome.asn:
        user = update.effective_user
        label = (
            f"{user.full_name} (@{user.username})"
            if user and user.username
            else (user.full_name if user else user_id)
        )
        keyboard = InlineKeyboardMarkup(
            [
                [
                    InlineKeyboardButton(
                        th("button.approve"), callback_data=f"r:{outcome.request.id}:a"
                    ),
                    InlineKeyboardButton(
                        th("button.reject"), callback_data=f"r:{outcome.request.id}:r"
                    ),
                ]
            ]
        )
        text = th(
            "admin.reg_request",
            nama=outcome.asn.nama,
            nip=outcome.asn.nip,
            jabatan=outcome.asn.jabatan or "-",
            who=label,
        )
        for admin in outcome.notify_admins:
            if admin.telegram_id is not None:
                await notify(context, admin.telegram_id, text, reply_markup=keyboard)


TAP_TEXT = {
    TapOutcome.ALREADY: "tap.already",
    TapOutcome.REFUSED: "tap.refused",
    TapOutcome.CANCELLED: "tap.cancelled",
}


def tap_answer(result: TapResult) -> str:
    """The toast a tap is answered with."""
    if result.outcome == TapOutcome.RECORDED:
        return th("tap.recorded_like" if result.kind == "like" else "tap.recorded_share")
    return th(TAP_TEXT[result.outcome])


async def tap(update: Update, context: Context) -> None:
    """A Like/Share tap by long polling (or malformed, by either transport): recorded once,
    answered at once; the buttons are redrawn by ``ButtonRedrawer``."""
    query = update.callback_query
    if query is None:
        return
    parsed = parse_callback(query.data or "")
    if parsed is None:
        await query.answer(th("tap.refused"))
        return
    delivery_id, kind = parsed
    one = Tap(delivery_id, kind, str(query.from_user.id))
    # The person's app spins until the answer: under load, answer within a moment and let
    # the recording finish behind it rather than let the query expire unanswered.
    recording = asyncio.ensure_future(
        in_db(context, lambda s: record_taps(s, CHANNEL, [one], redraw=True)[0])
    )
    try:
        result = await asyncio.wait_for(asyncio.shield(recording), ANSWER_WITHIN)
    except TimeoutError:
        await query.answer(th("tap.pending"))
        result = await recording
    else:
        await query.answer(tap_answer(result))
    if result.outcome == TapOutcome.RECORDED and "redraw" in context.bot_data:
        context.bot_data["redraw"]()


async def status(update: Update, context: Context) -> None:
    who = sender(update)
    if who is None:
        return
    user_id, _ = who

    def work(session: Session) -> str:
        asn = asn_for_account(session, CHANNEL, user_id)
        if asn is None or asn.id is None:
            return th("status.unregistered")
        now = utcnow()
        delivered, liked, shared = asn_summary(session, asn.id, Window(now - timedelta(30), now))
        opd = session.get(Opd, asn.opd_id)
        state = th("status.stopped") if asn.opted_out_at else th("status.active")
        return th(
            "status.body",
            nama=asn.nama,
            nip=asn.nip,
            opd=opd.nama if opd else "",
            state=Html(state),
            delivered=delivered,
            liked=liked,
            shared=shared,
        )

    await reply(update, await in_db(context, work))


async def stop(update: Update, context: Context) -> None:
    who = sender(update)
    if who is None:
        return

    def work(session: Session) -> str:
        asn = asn_for_account(session, CHANNEL, who[0])
        if asn is None:
            return th("stop.unregistered")
        opt_out(session, asn)
        return th("stop.done")

    await reply(update, await in_db(context, work))


async def erase_prompt(update: Update, context: Context) -> None:
    keyboard = InlineKeyboardMarkup(
        [
            [
                InlineKeyboardButton(th("button.erase_yes"), callback_data="h:y"),
                InlineKeyboardButton(th("button.erase_no"), callback_data="h:n"),
            ]
        ]
    )
    await reply(update, th("erase.confirm"), reply_markup=keyboard)


async def erase_answer(update: Update, context: Context) -> None:
    query = update.callback_query
    if query is None:
        return
    await query.answer()
    user_id = str(query.from_user.id)
    if query.data == "h:y":
        erased = await in_db(context, lambda s: erase_account(s, CHANNEL, user_id))
        text = th("erase.done") if erased else th("erase.nothing")
    else:
        text = th("erase.kept")
    await query.edit_message_text(text)


async def chat_member(update: Update, context: Context) -> None:
    """``kicked``: the user blocked the bot; ``member``: they came back."""
    change = update.my_chat_member
    if change is None or change.chat.type != "private":
        return
    user_id = str(change.from_user.id)
    status_now = change.new_chat_member.status
    if status_now == "kicked":
        await in_db(context, lambda s: set_reachable(s, CHANNEL, user_id, False, "blocked the bot"))
    elif status_now == "member":
        await in_db(context, lambda s: set_reachable(s, CHANNEL, user_id, True))


__all__ = ["notify"]
