"""The one format of what a button carries back (Telegram ``callback_data``, a WhatsApp reply
button's id): ``<kind>[:<id>]:<action>``, at most 64 bytes (Telegram's limit).

The Like/Share tap keeps its ``g1:<delivery>:<l|s>`` form: posts already sent carry it, and a
changed format gets a new prefix (``g2``) rather than a new meaning for the old one.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

MAX_BYTES: Final = 64

TAP: Final = "g1"  # Like/Share on a broadcast post: g1:<delivery>:<l|s>
REGISTRATION: Final = "r"  # an OPD admin decides a NIP request: r:<request>:<a|r>
SUBMISSION: Final = "p"  # an OPD admin's draft post: p:skip | p:go | p:no
REVIEW: Final = "a"  # Diskominfo reviews a post: a:<post>:<all|own|rej|nall|nown|back>
ERASE: Final = "h"  # /hapus confirmation: h:y | h:n
CONSENT: Final = "c"  # agreeing to the consent text with a number the network vouches for: c:ok

# The actions of each kind (unpacked names cannot be ``Final``; they are constants all the same).
LIKE, SHARE = "l", "s"  # TAP
APPROVE, REJECT = "a", "r"  # REGISTRATION
SKIP, SUBMIT, CANCEL = "skip", "go", "no"  # SUBMISSION
APPROVE_ALL, APPROVE_OWN, REJECT_POST = "all", "own", "rej"  # REVIEW
# REVIEW, second step: the neutrality tick for all / own OPD, or back to the review notice.
NEUTRAL_ALL, NEUTRAL_OWN, BACK = "nall", "nown", "back"
YES, NO = "y", "n"  # ERASE
AGREE: Final = "ok"  # CONSENT

ACTIONS: Final[dict[str, frozenset[str]]] = {
    TAP: frozenset({LIKE, SHARE}),
    REGISTRATION: frozenset({APPROVE, REJECT}),
    SUBMISSION: frozenset({SKIP, SUBMIT, CANCEL}),
    REVIEW: frozenset({APPROVE_ALL, APPROVE_OWN, REJECT_POST, NEUTRAL_ALL, NEUTRAL_OWN, BACK}),
    ERASE: frozenset({YES, NO}),
    CONSENT: frozenset({AGREE}),
}
WITH_ID: Final = frozenset({TAP, REGISTRATION, REVIEW})
TAP_KINDS: Final = {LIKE: "like", SHARE: "share"}


@dataclass(frozen=True)
class Choice:
    kind: str
    action: str
    ref: int | None = None  # the delivery, request or post the button is about


def encode(kind: str, action: str, ref: int | None = None) -> str:
    if action not in ACTIONS[kind] or (ref is None) == (kind in WITH_ID):
        raise ValueError(f"bad choice {kind}:{ref}:{action}")
    data = f"{kind}:{ref}:{action}" if ref is not None else f"{kind}:{action}"
    if len(data.encode()) > MAX_BYTES:
        raise ValueError(f"choice longer than {MAX_BYTES} bytes: {data}")
    return data


def decode(data: str) -> Choice | None:
    """The choice, or None for anything Gaung did not send (old, forged or malformed)."""
    parts = data.split(":")
    kind = parts[0]
    if kind not in ACTIONS or len(parts) != (3 if kind in WITH_ID else 2):
        return None
    ref: int | None = None
    if kind in WITH_ID:
        if not parts[1].isdigit() or not parts[1].isascii():
            return None
        ref = int(parts[1])
    action = parts[-1]
    return Choice(kind, action, ref) if action in ACTIONS[kind] else None


def tap_data(delivery_id: int, kind: str) -> str:
    """``g1:<delivery>:<l|s>`` for a ``like``/``share`` button."""
    return encode(TAP, kind[0], delivery_id)


def parse_tap(data: str) -> tuple[int, str] | None:
    """(delivery id, ``like``/``share``) of a tap, or None."""
    choice = decode(data)
    if choice is None or choice.kind != TAP or choice.ref is None:
        return None
    return choice.ref, TAP_KINDS[choice.action]
