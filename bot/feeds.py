"""Polling OPDs' official feeds (website RSS/Atom, YouTube channel) for newly published posts;
Instagram and Facebook through Meta's Graph API (``bot.graph``) when the regency set a token.

Polite to the OPDs' servers, most of which are small WordPress sites: each source is asked at
most once per ``GAUNG_FEED_POLL_MINUTES``, with its last ``ETag`` / ``Last-Modified`` so an
unchanged feed costs a 304; a failing source is asked less and less often (doubling, at most
once a day); bodies are capped in size. Parsing is feedparser's, which copes with the broken
markup real feeds carry. What is found goes to ``db.posts.sources.record_poll``: new items
become *submitted* posts, waiting for Diskominfo's approval like any link an OPD admin sends.
"""

from __future__ import annotations

import asyncio
import calendar
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import feedparser
import httpx
from sqlalchemy import Engine
from sqlmodel import Session, col, select

from bot.graph import GraphConfig, fetch_graph
from bot.periodic import repeat
from bot.texts import t
from db.engine import session_scope
from db.models import Admin, Opd, Post, Role
from db.posts.sources import (
    FEED_KINDS,
    GRAPH_KINDS,
    DueSource,
    FeedEntry,
    PollOutcome,
    PollResult,
    claim_due_sources,
    record_poll,
)
from db.settings import Settings
from db.types import utcnow

log = logging.getLogger("gaung.feeds")
MAX_BYTES = 5 * 1024 * 1024  # a feed is a few hundred kB; more is not a feed
CONCURRENCY = 4
IDLE_SECONDS = 30.0  # how often to look for sources that have become due
USER_AGENT = "Gaung/0.1 (Diskominfo Kabupaten Mojokerto; pembaca feed resmi OPD)"


@dataclass(frozen=True)
class WaitingNotice:
    """What to tell an OPD's admins about a post their feed produced.

    ``admin_ids`` are the OPD's active admins (``admin.id``); ``text`` is the message. The
    sending is the notifier's job (being built beside this, in ``bot/conversation``).
    """

    post_id: int
    opd_id: int
    admin_ids: tuple[int, ...]
    text: str


Notify = Callable[[WaitingNotice], Awaitable[None]]


def notify_waiting(session: Session, post: Post) -> WaitingNotice:
    """The notice that a post found in the OPD's feed waits for Diskominfo's approval."""
    opd = session.get(Opd, post.opd_id)
    assert opd is not None and post.id is not None
    admins = session.exec(
        select(Admin.id).where(
            Admin.opd_id == post.opd_id,
            Admin.role == Role.OPD,
            col(Admin.active).is_(True),
        )
    ).all()
    caption = f"{post.caption}\n" if post.caption else ""
    text = t("feed.waiting", opd=opd.nama, id=post.id, caption=caption, url=post.url)
    return WaitingNotice(post.id, post.opd_id, tuple(a for a in admins if a is not None), text)


def parse_feed(body: bytes, url: str, content_type: str | None = None) -> list[FeedEntry]:
    """Entries of an RSS, Atom or YouTube feed, newest first as the feed lists them.

    Raises ``ValueError`` for a body that is no feed at all (an HTML error page, truncated
    XML with nothing readable); a feed feedparser could partly read is used as far as it goes.
    """
    headers = {"content-location": url}
    if content_type:
        headers["content-type"] = content_type
    parsed: Any = feedparser.parse(body, response_headers=headers, sanitize_html=False)
    if not parsed.entries and (parsed.bozo or not parsed.version):
        reason = parsed.get("bozo_exception") or "bukan RSS/Atom"
        raise ValueError(f"feed tidak bisa dibaca: {reason}")
    entries: list[FeedEntry] = []
    for entry in parsed.entries:
        link = entry.get("link") or None
        key = entry.get("id") or entry.get("guid") or link
        if not key:
            continue
        entries.append(
            FeedEntry(
                key=str(key),
                url=str(link) if link else None,
                title=" ".join(str(entry.get("title") or "").split()) or None,
                published=_when(entry.get("published_parsed") or entry.get("updated_parsed")),
            )
        )
    return entries


def _when(value: Any) -> datetime | None:
    """feedparser gives UTC ``struct_time``s."""
    if not value:
        return None
    try:
        return datetime.fromtimestamp(calendar.timegm(value), UTC)
    except (TypeError, ValueError, OverflowError):
        return None


async def fetch(client: httpx.AsyncClient, source: DueSource) -> PollResult:
    """One conditional GET of a source, read and parsed; never raises for the source's faults."""
    headers = {"Accept": "application/rss+xml, application/atom+xml, application/xml;q=0.9"}
    if source.etag:
        headers["If-None-Match"] = source.etag
    if source.last_modified:
        headers["If-Modified-Since"] = source.last_modified
    try:
        async with client.stream("GET", source.url, headers=headers) as response:
            if response.status_code == 304:
                return PollResult(not_modified=True)
            if response.status_code != 200:
                return PollResult(error=f"HTTP {response.status_code}")
            body = bytearray()
            async for chunk in response.aiter_bytes():
                body += chunk
                if len(body) > MAX_BYTES:
                    return PollResult(error=f"lebih dari {MAX_BYTES // 1024 // 1024} MB")
            etag = response.headers.get("etag")
            modified = response.headers.get("last-modified")
            content_type = response.headers.get("content-type")
    except httpx.HTTPError as exc:
        return PollResult(error=f"{type(exc).__name__}: {exc}"[:500])
    try:
        entries = await asyncio.to_thread(parse_feed, bytes(body), source.url, content_type)
    except ValueError as exc:
        return PollResult(error=str(exc)[:500])
    return PollResult(entries=entries, etag=etag, last_modified=modified)


class FeedPoller:
    """Polls due sources; ``run`` loops until ``stop`` is set (started by ``gaung worker``)."""

    def __init__(
        self,
        engine: Engine,
        *,
        interval: timedelta,
        client: httpx.AsyncClient | None = None,
        notify: Notify | None = None,
        graph: GraphConfig | None = None,
    ) -> None:
        self.engine = engine
        self.interval = interval
        self.notify = notify
        self.graph = graph
        self.kinds = FEED_KINDS + (GRAPH_KINDS if graph is not None else ())
        self._own_client = client is None
        self.client = client or httpx.AsyncClient(
            headers={"User-Agent": USER_AGENT},
            follow_redirects=True,
            timeout=httpx.Timeout(20.0, connect=10.0),
        )

    @classmethod
    def from_settings(
        cls, engine: Engine, settings: Settings, *, notify: Notify | None = None
    ) -> FeedPoller:
        """``notify``: how the OPD's admins hear of a waiting post (``gaung worker`` passes the
        notifier's; without it the notice is only logged, and the post waits all the same)."""
        return cls(
            engine,
            notify=notify,
            interval=timedelta(minutes=settings.feed_poll_minutes),
            graph=GraphConfig.from_settings(settings),
        )

    async def poll_once(self, now: datetime | None = None) -> list[PollOutcome]:
        """Poll every source due now; returns what each poll recorded."""
        now = now or utcnow()
        due = await asyncio.to_thread(self._claim, now)
        if not due:
            return []
        gate = asyncio.Semaphore(CONCURRENCY)

        async def one(source: DueSource) -> PollOutcome:
            async with gate:
                if source.kind in GRAPH_KINDS and self.graph is not None:
                    result = await fetch_graph(self.client, source, self.graph)
                else:
                    result = await fetch(self.client, source)
            if result.error:
                log.warning("sumber #%s (%s): %s", source.id, source.url, result.error)
            outcome, notices = await asyncio.to_thread(self._record, source.id, result, now)
            for notice in notices:
                await self._tell(notice)
            return outcome

        return list(await asyncio.gather(*(one(s) for s in due)))

    async def run(self, stop: asyncio.Event) -> None:
        async def one_round() -> int:
            return len(await self.poll_once())

        try:
            await repeat(one_round, stop, every=IDLE_SECONDS, name="feed polling")
        finally:
            await self.aclose()

    async def aclose(self) -> None:
        if self._own_client:
            await self.client.aclose()

    def _claim(self, now: datetime) -> list[DueSource]:
        with session_scope(self.engine) as session:
            return claim_due_sources(session, now=now, kinds=self.kinds)

    def _record(
        self, source_id: int, result: PollResult, now: datetime
    ) -> tuple[PollOutcome, list[WaitingNotice]]:
        with session_scope(self.engine) as session:
            outcome = record_poll(session, source_id, result, interval=self.interval, now=now)
            notices = [notify_waiting(session, post) for post in outcome.posts]
        return outcome, notices

    async def _tell(self, notice: WaitingNotice) -> None:
        if self.notify is None:
            log.info("postingan #%s dari feed menunggu persetujuan", notice.post_id)
            return
        try:
            await self.notify(notice)
        except Exception:  # the post is on record; a failed notice must not lose the others
            log.exception("notice for post #%s failed", notice.post_id)
