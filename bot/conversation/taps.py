"""Like/Share taps on a broadcast post: recorded once, answered with a short toast."""

from __future__ import annotations

from sqlmodel import Session

from bot.conversation.replies import Outcome, Person
from bot.texts import as_plain, th
from db.delivery.confirmations import Tap, TapOutcome, TapResult, record_taps

TAP_TEXT = {
    TapOutcome.ALREADY: "tap.already",
    TapOutcome.REFUSED: "tap.refused",
    TapOutcome.CANCELLED: "tap.cancelled",
}


def tap_answer(result: TapResult) -> str:
    """The toast a tap is answered with (plain text)."""
    if result.outcome == TapOutcome.RECORDED:
        key = "tap.recorded_like" if result.kind == "like" else "tap.recorded_share"
    else:
        key = TAP_TEXT[result.outcome]
    return as_plain(th(key))


def tap(session: Session, person: Person, delivery_id: int, kind: str) -> Outcome:
    """Record one tap; ``redraw`` asks the channel to show the ✅ on the post's buttons."""
    one_tap = Tap(delivery_id, kind, person.external_id)
    result = record_taps(session, person.channel, [one_tap], redraw=True)[0]
    return Outcome(answer=tap_answer(result), redraw=result.outcome == TapOutcome.RECORDED)
