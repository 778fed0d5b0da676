"""An OPD's official sources (website feed, YouTube channel, Instagram/Facebook through Meta's
Graph API) and what their polling found.

The poller in ``bot.feeds`` does the network and the parsing; everything it learns lands here
as plain values, so the rules live in one place and are tested on both databases: each item is
remembered by its key, so it becomes a post at most once; a new item becomes a *submitted* post
of the source's OPD (through ``submit_post``, like a link sent by the OPD admin), so nothing is
ever sent without Diskominfo's approval; and a source that fails is polled less and less often.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from urllib.parse import parse_qs, urlsplit

import sqlalchemy as sa
from sqlalchemy import func, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from db.accounts.audit import record, remove_recorded
from db.errors import Conflict, GaungError, Invalid, get_or_missing
from db.models import FeedItem, FeedSource, Opd, Post, SourceKind, table
from db.posts.lifecycle import MAX_CAPTION, check_url, submit_post
from db.roster.opd import opd_by_kode
from db.types import utcnow

GRAPH_KINDS = (SourceKind.INSTAGRAM, SourceKind.FACEBOOK)
FEED_KINDS = (SourceKind.RSS, SourceKind.YOUTUBE)
MAX_BACKOFF = timedelta(hours=24)
CLAIM = timedelta(minutes=5)  # how long a poller holds a source while fetching it
YOUTUBE_FEED = "https://www.youtube.com/feeds/videos.xml?channel_id="
BASELINE = "sudah ada di sumber saat didaftarkan"


@dataclass(frozen=True)
class FeedEntry:
    """One item of a feed, as the poller read it."""

    key: str  # the feed's own id for the item (guid, Atom id), else its link
    url: str | None
    title: str | None
    published: datetime | None = None


@dataclass(frozen=True)
class PollResult:
    """What one poll of a source brought: new entries, "not modified" (304), or an error."""

    entries: Sequence[FeedEntry] = ()
    etag: str | None = None
    last_modified: str | None = None
    not_modified: bool = False
    error: str | None = None


@dataclass(frozen=True)
class DueSource:
    id: int
    opd_id: int
    kind: str
    url: str
    etag: str | None
    last_modified: str | None


@dataclass(frozen=True)
class SourceView:
    id: int
    opd_kode: str
    kind: str
    url: str
    active: bool
    items: int
    posts: int
    last_ok_at: datetime | None
    next_poll_at: datetime | None
    failures: int
    last_error: str | None

    def as_dict(self) -> dict[str, object]:
        return {
            "id": self.id,
            "opd": self.opd_kode,
            "kind": self.kind,
            "url": self.url,
            "active": self.active,
            "items": self.items,
            "posts": self.posts,
            "last_ok_at": self.last_ok_at.isoformat() if self.last_ok_at else None,
            "next_poll_at": self.next_poll_at.isoformat() if self.next_poll_at else None,
            "failures": self.failures,
            "last_error": self.last_error,
        }


@dataclass
class PollOutcome:
    """What recording a poll did: the posts now waiting for Diskominfo, and items skipped."""

    source_id: int
    posts: list[Post] = field(default_factory=list)
    skipped: int = 0
    error: str | None = None


def guess_kind(url: str) -> SourceKind:
    host = (urlsplit(url).hostname or "").lower()

    def on(*domains: str) -> bool:
        return any(host == d or host.endswith("." + d) for d in domains)

    if on("youtube.com", "youtu.be"):
        return SourceKind.YOUTUBE
    if on("instagram.com"):
        return SourceKind.INSTAGRAM
    if on("facebook.com", "fb.com"):
        return SourceKind.FACEBOOK
    return SourceKind.RSS


def youtube_feed_url(url: str) -> str:
    """A channel's feed URL from the feed itself or from a ``/channel/UC…`` page address.

    Handles (``@name``) and custom addresses need YouTube's API to resolve, so they are refused
    with the form to use instead.
    """
    parts = urlsplit(url)
    if parts.path.rstrip("/") == "/feeds/videos.xml":
        ids = parse_qs(parts.query).get("channel_id") or parse_qs(parts.query).get("playlist_id")
        if ids and ids[0]:
            return url
    segments = [s for s in parts.path.split("/") if s]
    if len(segments) >= 2 and segments[0] == "channel" and segments[1].startswith("UC"):
        return YOUTUBE_FEED + segments[1]
    raise Invalid(
        "alamat YouTube harus berupa https://www.youtube.com/channel/UC… atau "
        "https://www.youtube.com/feeds/videos.xml?channel_id=UC… (ID kanal ada di "
        "Setelan YouTube Studio › Kanal › Setelan lanjutan)"
    )


def add_source(
    session: Session,
    *,
    opd_kode: str,
    url: str,
    kind: str | None = None,
    graph_token: bool = False,
    actor: str = "cli",
    now: datetime | None = None,
) -> FeedSource:
    """Register an official source; its first poll is due at once.

    Instagram and Facebook are read only through Meta's Graph API with the regency's token
    (never by scraping), so without ``GAUNG_META_GRAPH_TOKEN`` they are refused.
    """
    opd = opd_by_kode(session, opd_kode)
    url = check_url(url)
    try:
        source_kind = SourceKind(kind.strip().lower()) if kind else guess_kind(url)
    except ValueError:
        choices = ", ".join(k.value for k in SourceKind)
        raise Invalid(f"jenis sumber {kind!r} tidak dikenal (pilih: {choices})") from None
    if source_kind in GRAPH_KINDS and not graph_token:
        raise Invalid(
            f"sumber {source_kind.value} hanya dibaca lewat Graph API resmi Meta dengan token "
            "kabupaten: atur GAUNG_META_GRAPH_TOKEN dahulu (Gaung tidak mengambil data "
            "dengan scraping)"
        )
    if source_kind == SourceKind.YOUTUBE:
        url = youtube_feed_url(url)
    existing = session.exec(select(FeedSource).where(col(FeedSource.url) == url)).first()
    if existing is not None:
        raise Conflict(f"sumber ini sudah terdaftar sebagai #{existing.id}")
    source = FeedSource(
        opd_id=opd.id,  # type: ignore[arg-type]
        kind=source_kind,
        url=url,
        next_poll_at=now or utcnow(),
        created_at=now or utcnow(),
    )
    session.add(source)
    session.flush()
    record(session, actor, "source.add", f"source:{source.id}", opd=opd.kode, url=url)
    return source


def remove_source(session: Session, source_id: int, *, actor: str = "cli") -> FeedSource:
    """Forget a source and its seen items; the posts it produced stay."""
    source = get_or_missing(session, FeedSource, source_id, "sumber")
    return remove_recorded(session, source, "source", actor=actor, keep=("url",))


def list_sources(session: Session, *, opd_kode: str | None = None) -> list[SourceView]:
    src, item, opd = table(FeedSource), table(FeedItem), table(Opd)
    items = (
        sa.select(
            item.c.source_id,
            func.count().label("seen"),
            func.count(item.c.post_id).label("posts"),
        )
        .group_by(item.c.source_id)
        .subquery()
    )
    stmt = (
        sa.select(
            src.c.id,
            opd.c.kode,
            src.c.kind,
            src.c.url,
            src.c.active,
            func.coalesce(items.c.seen, 0),
            func.coalesce(items.c.posts, 0),
            src.c.last_ok_at,
            src.c.next_poll_at,
            src.c.failures,
            src.c.last_error,
        )
        .join(opd, opd.c.id == src.c.opd_id)
        .outerjoin(items, items.c.source_id == src.c.id)
        .order_by(opd.c.kode, src.c.id)
    )
    if opd_kode is not None:
        stmt = stmt.where(opd.c.id == opd_by_kode(session, opd_kode).id)
    rows = session.connection().execute(stmt)
    return [SourceView(*row) for row in rows]


def claim_due_sources(
    session: Session, *, now: datetime, kinds: Sequence[str] = FEED_KINDS, limit: int = 20
) -> list[DueSource]:
    """Sources due for a poll, each held for ``CLAIM`` so that another worker skips it."""
    src = table(FeedSource)
    due = (
        sa.select(src.c.id)
        .where(
            src.c.active.is_(True),
            src.c.kind.in_([str(k) for k in kinds]),
            src.c.next_poll_at <= now,
        )
        .order_by(src.c.next_poll_at, src.c.id)
        .limit(limit)
    )
    if session.get_bind().dialect.name == "postgresql":
        due = due.with_for_update(skip_locked=True)
    rows = session.connection().execute(
        update(src)
        .where(src.c.id.in_(due.scalar_subquery()))
        .values(next_poll_at=now + CLAIM)
        .returning(src.c.id, src.c.opd_id, src.c.kind, src.c.url, src.c.etag, src.c.last_modified)
    )
    return sorted((DueSource(*row) for row in rows), key=lambda s: s.id)


def backoff(interval: timedelta, failures: int) -> timedelta:
    """The wait after ``failures`` failures in a row: doubling, at most a day."""
    if failures <= 0:
        return interval
    return min(interval * (1 << min(failures, 16)), max(MAX_BACKOFF, interval))


def record_poll(
    session: Session,
    source_id: int,
    result: PollResult,
    *,
    interval: timedelta,
    now: datetime | None = None,
) -> PollOutcome:
    """Store a poll's result; each entry never seen before becomes a submitted post.

    On the source's first successful poll, entries published before the source was registered
    are only remembered: a feed's back catalogue is not news, and a queue of ten old posts per
    new source would bury Diskominfo's real work.
    """
    now = now or utcnow()
    source = session.get(FeedSource, source_id, with_for_update=True)
    if source is None:  # removed while being polled
        return PollOutcome(source_id)
    source.last_polled_at = now
    outcome = PollOutcome(source_id)
    if result.error is not None:
        source.failures += 1
        source.last_error = result.error[:500]
        source.next_poll_at = now + backoff(interval, source.failures)
        outcome.error = source.last_error
        session.add(source)
        session.flush()
        return outcome
    first = source.last_ok_at is None
    source.failures, source.last_error = 0, None
    source.last_ok_at = now
    source.next_poll_at = now + interval
    if not result.not_modified:
        source.etag = (result.etag or "")[:512] or None
        source.last_modified = (result.last_modified or "")[:128] or None
    session.add(source)
    session.flush()
    opd = session.get(Opd, source.opd_id)
    assert opd is not None
    seen = _seen_keys(session, source_id, [e.key for e in result.entries])
    # Feeds list the newest first; submitting oldest first keeps post numbers in publishing order.
    for entry in reversed(result.entries):
        if entry.key in seen:
            continue
        seen.add(entry.key)
        old = entry.published is None or entry.published < source.created_at
        skipped = BASELINE if first and old else None
        post = None
        if skipped is None:
            post, skipped = _submit(session, source, opd.kode, entry)
        item = FeedItem(
            source_id=source_id,
            item_key=entry.key[:512],
            url=(entry.url or "")[:2048] or None,
            title=(entry.title or "")[:1000] or None,
            post_id=post.id if post is not None else None,
            skipped=skipped[:200] if skipped else None,
            seen_at=now,
        )
        try:
            with session.begin_nested():
                session.add(item)
        except IntegrityError:  # another poller stored it first: it made the post, not us
            if post is not None:
                raise
            continue
        if post is not None:
            outcome.posts.append(post)
        else:
            outcome.skipped += 1
    return outcome


def _seen_keys(session: Session, source_id: int, keys: Sequence[str]) -> set[str]:
    if not keys:
        return set()
    item = table(FeedItem)
    found = session.connection().execute(
        sa.select(item.c.item_key).where(
            item.c.source_id == source_id, item.c.item_key.in_([k[:512] for k in keys])
        )
    )
    return set(found.scalars())


def _submit(
    session: Session, source: FeedSource, opd_kode: str, entry: FeedEntry
) -> tuple[Post | None, str | None]:
    """The entry as a submitted post, or why it could not be one."""
    if not entry.url:
        return None, "item tanpa tautan"
    caption = (entry.title or "").strip() or None
    if caption is not None and len(caption) > MAX_CAPTION:
        caption = caption[: MAX_CAPTION - 1] + "…"
    try:
        with session.begin_nested():
            post = submit_post(
                session,
                opd_kode=opd_kode,
                url=entry.url,
                caption=caption,
                actor=f"feed:{source.id}",
            )
    except GaungError as exc:  # an unusable link, or the OPD admin already sent it
        return None, exc.message
    return post, None
