"""Running the WhatsApp number inside ``gaung serve``: the inbox, the conversation, statuses.

A webhook POST is answered once its events are durable: each is stored in the same inbox as
Telegram's updates (``processed_update``), keyed by Meta's message id (a message) or message id
and status (a status), so Meta's redeliveries and duplicates are handled once. A Like/Share tap
and a status are recorded in that same transaction; any other message is handled after the 200
(``converse``), and the few left unhandled by a crash are handled at the next start.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import asdict
from typing import Any

from sqlalchemy import Engine

from bot.channels import backlog
from bot.channels.base import RateLimited, SendError, Transient
from bot.conversation.choices import parse_tap
from bot.conversation.flows import Settings as FlowSettings
from bot.conversation.flows import flooded
from bot.conversation.notifier import Notifier
from bot.conversation.replies import Outcome, Person
from bot.conversation.taps import tap_answer
from bot.inbox import InboxWriter, Incoming
from bot.ratelimit import Pacer
from bot.whatsapp.adapter import (
    CHANNEL,
    converse,
    last_inbound,
    person_of,
    resolve,
    window_from,
)
from bot.whatsapp.render import WhatsAppOutbound, messages
from bot.whatsapp.sender import WhatsAppChannel, parse_tracker
from bot.whatsapp.webhook import (
    ButtonReply,
    Contact,
    Event,
    Inbound,
    InboundText,
    OtherInbound,
    QuickReply,
    Status,
)
from db.delivery.confirmations import Tap
from db.delivery.whatsapp import StatusUpdate
from db.engine import session_scope
from db.settings import Settings

log = logging.getLogger("gaung.whatsapp")
REACH_FIRST, REACH_CAP = 2.0, 60.0  # seconds between tries to reach the Cloud API
KINDS: dict[str, type[Inbound]] = {
    "text": InboundText,
    "button_reply": ButtonReply,
    "quick_reply": QuickReply,
    "other": OtherInbound,
}


def encode(event: Inbound) -> dict[str, Any]:
    """An inbound event as the inbox keeps it until handled."""
    kind = {InboundText: "text", ButtonReply: "button_reply", QuickReply: "quick_reply"}.get(
        type(event), "other"
    )
    return {"kind": kind, **asdict(event)}


def decode(payload: dict[str, Any]) -> Inbound:
    fields = dict(payload)
    cls = KINDS[fields.pop("kind")]
    fields["contact"] = Contact(**fields["contact"])
    return cls(**fields)


def status_update(event: Status) -> StatusUpdate | None:
    """The delivery a status is about (by our tracker), or None for a message not a post."""
    delivery_id = parse_tracker(event.tracker)
    if delivery_id is None:
        return None
    error = event.errors[0] if event.errors else None
    return StatusUpdate(
        delivery_id=delivery_id,
        status=event.status,
        error_code=error.code if error else None,
        error=(error.details or error.title) if error else None,
        billable=event.pricing.billable if event.pricing else None,
        category=event.pricing.category if event.pricing else None,
    )


def tap_of(event: Inbound, account: str | None = None) -> Tap | None:
    data = (
        event.button_id
        if isinstance(event, ButtonReply)
        else event.payload
        if isinstance(event, QuickReply)
        else None
    )
    parsed = parse_tap(data) if data else None
    if parsed is None:
        return None
    return Tap(parsed[0], parsed[1], account or person_of(event).external_id)


class WhatsAppService:
    def __init__(
        self,
        settings: Settings,
        engine: Engine,
        sender: WhatsAppChannel,
        pacer: Pacer,
        notifier: Notifier,
    ) -> None:
        self.settings = settings
        self.engine = engine
        self.sender = sender
        self.pacer = pacer
        self.outbound = WhatsAppOutbound(sender, pacer, engine=engine)
        self.notifier = notifier
        notifier.add(CHANNEL, self.outbound)
        self.inbox = InboxWriter(engine)
        self.flow_settings = FlowSettings.of(settings)
        self._tasks: set[asyncio.Task[None]] = set()
        # ok · degraded (the Cloud API not reached yet, retrying) · down (token or number
        # refused): what ``/healthz`` reports for the channel.
        self.health = "degraded"
        self.problem: str | None = "connecting"
        self._reach_task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Start taking webhooks at once: events need only the database. Whether the Cloud
        API answers is asked in the background, so Meta being unreachable never holds up
        ``gaung serve`` (the API and the dashboard); ``health`` says how it went."""
        self.inbox.start()
        self._reach_task = asyncio.create_task(self._reach())
        for update_id, payload in await backlog.leftovers(self.engine, CHANNEL):
            try:
                event = decode(payload)
            except (KeyError, TypeError, ValueError):
                log.warning("inbox entry %s unreadable; skipped", update_id)
                await backlog.handled(self.engine, CHANNEL, update_id)
                continue
            self._spawn(update_id, event)

    async def _reach(self) -> None:
        """Ask the Cloud API for the number until it answers, backing off as Telegram's
        service does; then the channel is ``ok``."""
        delay = REACH_FIRST
        while True:
            try:
                await self.sender.check()
            except SendError as exc:
                waiting = isinstance(exc, Transient | RateLimited)
                self.health = "degraded" if waiting else "down"
                self.problem = f"{type(exc).__name__}: {exc}"
                log.warning("WhatsApp Cloud API not reachable (%s); trying again", self.problem)
                await asyncio.sleep(delay)
                delay = min(REACH_CAP, delay * 2)
            else:
                if self.problem != "connecting":
                    log.info("WhatsApp Cloud API reachable again")
                self.health, self.problem = "ok", None
                return

    async def stop(self) -> None:
        if self._reach_task is not None:
            self._reach_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reach_task
        await self.inbox.stop()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
        await self.sender.aclose()

    async def receive(self, events: list[Event]) -> None:
        """Store every event (raises ``NotStored`` if one could not be); handling follows."""
        if len(events) == 1:  # Meta's usual: one event a POST, no task to gather it in
            stored = [await self._store(events[0])]
        else:
            stored = await asyncio.gather(*(self._store(event) for event in events))
        for event, (new, tap_answered) in zip(events, stored, strict=True):
            if not new or isinstance(event, Status):
                continue
            if tap_answered is not None:
                self._spawn_ack(event, tap_answered)
            else:
                self._spawn(event.dedupe_key, event)

    async def _store(self, event: Event) -> tuple[bool, str | None]:
        if isinstance(event, Status):
            update = status_update(event)
            item = Incoming(CHANNEL, f"s:{event.dedupe_key}", {}, status=update)
            if update is None:  # a reply's status: kept only to recognise a duplicate
                item = Incoming(CHANNEL, f"s:{event.dedupe_key}", {}, kept=True)
                return (await self.inbox.submit(item)).new, None
            receipt = await self.inbox.submit(item)
            return receipt.new, None
        account = None
        if not event.contact.wa_id:  # a username hides the number: find the account by user_id
            account = (await asyncio.to_thread(self._resolve, event)).external_id
        tap = tap_of(event, account)
        receipt = await self.inbox.submit(Incoming(CHANNEL, event.dedupe_key, encode(event), tap))
        if receipt.tap is not None:
            return receipt.new, tap_answer(receipt.tap)
        return receipt.new, None

    # -- after the 200 ----------------------------------------------------------------------

    def _spawn(self, update_id: str, event: Inbound) -> None:
        self._track(asyncio.create_task(self._handle(update_id, event)))

    def _spawn_ack(self, event: Inbound, answer: str) -> None:
        self._track(asyncio.create_task(self._ack(event, answer)))

    def _track(self, task: asyncio.Task[None]) -> None:
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _ack(self, event: Inbound, answer: str) -> None:
        """A tap is answered with a short acknowledgement (WhatsApp has no toasts); the tap is
        also a message, so the person's window restarts from it."""
        try:
            person, refused = await asyncio.to_thread(self._touch, event)
            if refused is not None:  # a flood of taps: the tap counts, the answers stop
                await self.show(person, refused)
            else:
                await self.outbound.send(person.chat_id, answer, [])
        except Exception:
            log.exception("acknowledging tap %s failed", event.message_id)

    async def _handle(self, update_id: str, event: Inbound) -> None:
        try:
            person, outcome = await asyncio.to_thread(self._converse, event)
            await self.show(person, outcome)
        except Exception:
            log.exception("whatsapp message %s failed", update_id)
        await backlog.handled(self.engine, CHANNEL, update_id)

    async def show(self, person: Person, outcome: Outcome) -> None:
        if outcome.answer and not outcome.replies:
            await self.outbound.send(person.chat_id, outcome.answer, [])
        for reply in outcome.replies:
            for body, buttons in messages(reply):
                await self.outbound.send(person.chat_id, body, buttons)
        if outcome.notices:
            await self.notifier.tell(outcome.notices)

    # -- database ---------------------------------------------------------------------------

    def _converse(self, event: Inbound) -> tuple[Person, Outcome]:
        with session_scope(self.engine) as session:
            return converse(session, event, self.flow_settings)

    def _touch(self, event: Inbound) -> tuple[Person, Outcome | None]:
        """The tapper, their window renewed, and what to answer instead of the tap's
        acknowledgement when their message allowance is spent (``flows.flooded``)."""
        with session_scope(self.engine) as session:
            person = resolve(session, event)
            window_from(session, person, event.at, last_inbound(session, person))
            return person, flooded(session, person, self.flow_settings)

    def _resolve(self, event: Inbound) -> Person:
        with session_scope(self.engine, readonly=True) as session:
            return resolve(session, event)


def start_whatsapp(
    settings: Settings, engine: Engine, notifier: Notifier | None, pacer: Pacer | None = None
) -> WhatsAppService | None:
    """The number's service for ``gaung serve`` when WhatsApp is configured (else None); its
    outbound joins ``notifier`` so admin notices reach WhatsApp admins too. ``pacer``: the
    number's pacer from the channel registry, shared with the broadcaster and every process."""
    from bot.channels.registry import whatsapp_sender

    sender = whatsapp_sender(settings)
    if sender is None:
        return None
    pacer = pacer or Pacer(settings.whatsapp_rate)
    return WhatsAppService(settings, engine, sender, pacer, notifier or Notifier(engine))
