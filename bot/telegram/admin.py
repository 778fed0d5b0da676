"""The admin side: OPD admins submit links; Diskominfo approves; NIP requests; /laporan."""

from __future__ import annotations

from datetime import timedelta

from sqlmodel import Session, col, select
from telegram import InlineKeyboardButton, InlineKeyboardMarkup, LinkPreviewOptions, Update

from bot.telegram.common import CHANNEL, Context, in_db, notify, reply, sender, settings_of
from bot.texts import Html, th
from db.accounts.admins import admin_by_telegram_id
from db.accounts.chat_state import clear_state, get_state, set_state
from db.accounts.registration import decide_request
from db.errors import GaungError, Invalid
from db.models import Admin, Opd, Post, Role
from db.posts.lifecycle import (
    MAX_CAPTION,
    approve_post,
    check_url,
    detect_platform,
    reject_post,
    submit_post,
)
from db.reporting.participation import participation
from db.reporting.window import Window
from db.roster.opd import opd_by_kode
from db.types import utcnow


def _pct(value: float) -> str:
    return f"{value:.1%}".replace(".", ",")


def _admin_opd(session: Session, admin: Admin) -> Opd | None:
    if admin.opd_id is not None:
        return session.get(Opd, admin.opd_id)
    try:
        return opd_by_kode(session, "DISKOMINFO")
    except GaungError:
        return None


async def link(update: Update, context: Context, text: str) -> bool:
    """An admin's link starts a submission. Returns False when the sender is not an admin."""
    who = sender(update)
    if who is None:
        return False
    user_id = who[0]

    def work(session: Session) -> tuple[bool, str, InlineKeyboardMarkup | None]:
        admin = admin_by_telegram_id(session, int(user_id))
        if admin is None:
            return False, th("submit.not_admin"), None
        try:
            url = check_url(text)
        except Invalid as exc:
            return True, th("submit.bad_url", detail=exc.message), None
        set_state(session, CHANNEL, user_id, "caption", url=url)
        keyboard = InlineKeyboardMarkup(
            [[InlineKeyboardButton(th("button.skip"), callback_data="p:skip")]]
        )
        platform = th(f"platform.{detect_platform(url)}")
        return True, th("submit.ask_caption", platform=Html(platform), max=MAX_CAPTION), keyboard

    is_admin, answer, keyboard = await in_db(context, work)
    await reply(update, answer, reply_markup=keyboard)
    return is_admin


def _preview(
    session: Session, user_id: str, caption: str | None
) -> tuple[str, InlineKeyboardMarkup | None]:
    state = get_state(session, CHANNEL, user_id)
    admin = admin_by_telegram_id(session, int(user_id))
    if state is None or admin is None:
        return th("unknown"), None
    url = state[1]["url"]
    if caption is not None and len(caption) > MAX_CAPTION:
        return th("submit.caption_too_long", length=len(caption), max=MAX_CAPTION), None
    set_state(session, CHANNEL, user_id, "preview", url=url, caption=caption)
    opd = _admin_opd(session, admin)
    keyboard = InlineKeyboardMarkup(
        [
            [
                InlineKeyboardButton(th("button.submit"), callback_data="p:go"),
                InlineKeyboardButton(th("button.cancel"), callback_data="p:no"),
            ]
        ]
    )
    shown = f"{caption}\n\n" if caption else ""
    return th("submit.preview", opd=opd.nama if opd else "-", caption=shown, url=url), keyboard


async def caption(update: Update, context: Context, text: str) -> None:
    who = sender(update)
    if who is None:
        return
    answer, keyboard = await in_db(context, lambda s: _preview(s, who[0], text.strip() or None))
    await reply(update, answer, reply_markup=keyboard)


async def submission_button(update: Update, context: Context) -> None:
    query = update.callback_query
    if query is None or query.message is None:
        return
    await query.answer()
    user_id = str(query.from_user.id)
    if query.data == "p:skip":
        answer, keyboard = await in_db(context, lambda s: _preview(s, user_id, None))
        await query.edit_message_text(answer, parse_mode="HTML", reply_markup=keyboard)
        return
    if query.data == "p:no":
        await in_db(context, lambda s: clear_state(s, CHANNEL, user_id))
        await query.edit_message_text(th("submit.cancelled"), parse_mode="HTML")
        return

    def work(session: Session) -> tuple[str, Post | None, str, list[int]]:
        state = get_state(session, CHANNEL, user_id)
        admin = admin_by_telegram_id(session, int(user_id))
        if state is None or state[0] != "preview" or admin is None:
            return th("unknown"), None, "", []
        opd = _admin_opd(session, admin)
        if opd is None:
            return th("submit.not_admin"), None, "", []
        clear_state(session, CHANNEL, user_id)
        try:
            post = submit_post(
                session,
                opd_kode=opd.kode,
                url=state[1]["url"],
                caption=state[1].get("caption"),
                submitted_by=admin,
                actor=f"admin:{admin.id}",
            )
        except GaungError as exc:
            return th("submit.duplicate", detail=exc.message), None, "", []
        reviewers = session.exec(
            select(Admin.telegram_id).where(
                Admin.role == Role.DISKOMINFO,
                Admin.active == True,  # noqa: E712
                col(Admin.telegram_id).is_not(None),
            )
        ).all()
        return th("submit.done", id=post.id), post, opd.nama, [r for r in reviewers if r]

    answer, post, opd_nama, reviewers = await in_db(context, work)
    await query.edit_message_text(answer, parse_mode="HTML")
    if post is None:
        return
    shown = f"{post.caption}\n\n" if post.caption else ""
    text = th(
        "review.new",
        id=post.id,
        opd=opd_nama,
        platform=th(f"platform.{post.platform}"),
        caption=shown,
        url=post.url,
    )
    keyboard = InlineKeyboardMarkup(
        [
            [InlineKeyboardButton(th("button.approve_all"), callback_data=f"a:{post.id}:all")],
            [
                InlineKeyboardButton(
                    th("button.approve_own", opd=opd_nama), callback_data=f"a:{post.id}:own"
                )
            ],
            [InlineKeyboardButton(th("button.reject"), callback_data=f"a:{post.id}:rej")],
        ]
    )
    for reviewer in reviewers:
        await notify(context, reviewer, text, reply_markup=keyboard)


async def review_button(update: Update, context: Context) -> None:
    """Diskominfo's Approve (all / own OPD) or Reject on a submission."""
    query = update.callback_query
    if query is None or query.message is None:
        return
    await query.answer()
    user_id = str(query.from_user.id)
    parts = (query.data or "").split(":")
    if len(parts) != 3 or not parts[1].isdigit() or parts[2] not in ("all", "own", "rej"):
        return
    post_id, action = int(parts[1]), parts[2]

    def work(session: Session) -> tuple[str, int | None, str | None]:
        admin = admin_by_telegram_id(session, int(user_id))
        if admin is None or admin.role != Role.DISKOMINFO:
            return th("report.not_admin"), None, None
        if action == "rej":
            set_state(session, CHANNEL, user_id, "reject_reason", post_id=post_id)
            return th("review.ask_reason", id=post_id), None, None
        post = session.get(Post, post_id)
        if post is None:
            return th("review.conflict", id=post_id, detail="tidak ada"), None, None
        opd = session.get(Opd, post.opd_id)
        targets = [opd.kode] if action == "own" and opd else None
        try:
            _, queued = approve_post(
                session, post_id, approved_by=admin, targets=targets, actor=f"admin:{admin.id}"
            )
        except GaungError as exc:
            return th("review.conflict", id=post_id, detail=exc.message), None, None
        submitter = session.get(Admin, post.submitted_by) if post.submitted_by else None
        return (
            th("review.approved", id=post_id, queued=queued),
            submitter.telegram_id if submitter else None,
            th("submitter.approved", id=post_id, queued=queued),
        )

    answer, submitter, notice = await in_db(context, work)
    await query.edit_message_text(answer, parse_mode="HTML")
    if submitter is not None and notice is not None:
        await notify(context, submitter, notice)


async def reject_reason(update: Update, context: Context, text: str, post_id: int) -> None:
    who = sender(update)
    if who is None:
        return

    def work(session: Session) -> tuple[str, int | None, str | None]:
        admin = admin_by_telegram_id(session, int(who[0]))
        clear_state(session, CHANNEL, who[0])
        if admin is None or admin.role != Role.DISKOMINFO:
            return th("report.not_admin"), None, None
        try:
            post = reject_post(session, post_id, reason=text, actor=f"admin:{admin.id}")
        except GaungError as exc:
            return th("review.conflict", id=post_id, detail=exc.message), None, None
        submitter = session.get(Admin, post.submitted_by) if post.submitted_by else None
        return (
            th("review.rejected", id=post_id, reason=text.strip()),
            submitter.telegram_id if submitter else None,
            th("submitter.rejected", id=post_id, reason=text.strip()),
        )

    answer, submitter, notice = await in_db(context, work)
    await reply(update, answer)
    if submitter is not None and notice is not None:
        await notify(context, submitter, notice)


async def registration_button(update: Update, context: Context) -> None:
    """An OPD admin approves or rejects an ASN's NIP request."""
    query = update.callback_query
    if query is None:
        return
    await query.answer()
    parts = (query.data or "").split(":")
    if len(parts) != 3 or not parts[1].isdigit() or parts[2] not in ("a", "r"):
        return
    user_id = str(query.from_user.id)

    def work(session: Session) -> tuple[str, str | None, str | None]:
        admin = admin_by_telegram_id(session, int(user_id))
        if admin is None:
            return th("report.not_admin"), None, None
        try:
            request, asn, outcome = decide_request(
                session, int(parts[1]), admin=admin, approve=parts[2] == "a"
            )
        except GaungError as exc:
            return f"{th('admin.decided_already')} ({exc.message})", None, None
        if parts[2] == "r":
            return th("admin.reg_rejected", nama=asn.nama), request.chat_id, th("reg.rejected")
        from bot.telegram.asn import registration_text

        assert outcome is not None
        return (
            th("admin.reg_approved", nama=asn.nama),
            request.chat_id,
            th("reg.approved", nama=asn.nama, opd=outcome.opd.nama if outcome.opd else "")
            if outcome.result == "registered"
            else registration_text(outcome),
        )

    answer, asn_chat, notice = await in_db(context, work)
    await query.edit_message_text(answer, parse_mode="HTML")
    if asn_chat is not None and notice is not None:
        await notify(context, asn_chat, notice)


async def report(update: Update, context: Context) -> None:
    who = sender(update)
    if who is None:
        return

    def work(session: Session) -> str:
        admin = admin_by_telegram_id(session, int(who[0]))
        if admin is None:
            return th("report.not_admin")
        now = utcnow()
        window = Window(now - timedelta(days=30), now)
        own = admin.role == Role.OPD and admin.opd_id is not None
        result = participation(session, window, opd_ids=[admin.opd_id] if own else None)  # type: ignore[list-item]
        total = result.total
        scope = f" — {result.rows[0].nama}" if own and result.rows else " — semua OPD"
        text: str = th(
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
        if not own:
            ranked = sorted(
                (r for r in result.rows if r.counts.delivered),
                key=lambda r: -r.counts.participation_rate,
            )[:5]
            lines = "\n".join(
                f"{i}. {r.kode} {_pct(r.counts.participation_rate)}"
                for i, r in enumerate(ranked, 1)
            )
            if lines:
                text += th("report.top", lines=lines)
        return text

    await reply(update, await in_db(context, work))


async def dashboard(update: Update, context: Context) -> None:
    who = sender(update)
    if who is None:
        return
    settings = settings_of(context)

    def work(session: Session) -> str:
        admin = admin_by_telegram_id(session, int(who[0]))
        if admin is None or admin.id is None:
            return th("report.not_admin")
        if not settings.public_url or settings.signing_key is None:
            return th("dashboard.no_url")
        from db.accounts.signing import dashboard_link
        from db.reporting.dashboard import ADMIN, subject_of

        subject = subject_of(ADMIN, admin.id)
        token = dashboard_link(session, settings.signing_key, subject=subject, now=utcnow())
        return th("dashboard.link", url=f"{settings.public_url}/dashboard/masuk?token={token}")

    # No preview: Telegram's servers must not fetch the sign-in page (it holds the token).
    no_preview = LinkPreviewOptions(is_disabled=True)
    await reply(update, await in_db(context, work), link_preview_options=no_preview)


async def pending_state(update: Update, context: Context, text: str) -> bool:
    """Route a text that continues a multi-step admin flow; False when there is none."""
    who = sender(update)
    if who is None:
        return False
    state = await in_db(context, lambda s: get_state(s, CHANNEL, who[0]))
    if state is None:
        return False
    name, data = state
    if name == "caption":
        await caption(update, context, text)
        return True
    if name == "reject_reason":
        await reject_reason(update, context, text, int(data["post_id"]))
        return True
    return False
