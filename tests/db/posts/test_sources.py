"""Registering OPD sources: which are accepted, how YouTube addresses are read, back-off."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlmodel import Session, select

from db.errors import Conflict, Invalid, NotFound
from db.models import AuditLog, FeedItem, Post
from db.posts.sources import (
    FeedEntry,
    PollResult,
    add_source,
    backoff,
    list_sources,
    record_poll,
    remove_source,
)
from db.roster.opd import ensure_opd

T0 = datetime(2026, 12, 1, 1, 0, tzinfo=UTC)
HOUR = timedelta(hours=1)


@pytest.fixture
def opd(session: Session) -> str:
    ensure_opd(session, "DINKES", "Dinas Kesehatan")
    ensure_opd(session, "BAPPEDA", "Bappeda")
    return "DINKES"


def test_kind_is_guessed_and_youtube_channel_pages_become_their_feed(
    session: Session, opd: str
) -> None:
    web = add_source(session, opd_kode=opd, url="https://dinkes.mojokertokab.go.id/feed/")
    yt = add_source(session, opd_kode=opd, url="https://www.youtube.com/channel/UCx1y2z3/videos")
    assert (web.kind, yt.kind) == ("rss", "youtube")
    assert yt.url == "https://www.youtube.com/feeds/videos.xml?channel_id=UCx1y2z3"
    assert web.next_poll_at is not None  # due at once
    assert session.exec(select(AuditLog).where(AuditLog.action == "source.add")).all()


def test_refusals_say_why(session: Session, opd: str) -> None:
    with pytest.raises(Invalid, match="GAUNG_META_GRAPH_TOKEN"):
        add_source(session, opd_kode=opd, url="https://www.instagram.com/dinkesmojokerto/")
    with pytest.raises(Invalid, match="GAUNG_META_GRAPH_TOKEN"):
        add_source(session, opd_kode=opd, url="https://example.org/x", kind="facebook")
    with pytest.raises(Invalid, match="channel/UC"):
        add_source(session, opd_kode=opd, url="https://www.youtube.com/@dinkesmojokerto")
    with pytest.raises(Invalid, match="tidak dikenal"):
        add_source(session, opd_kode=opd, url="https://example.org/feed", kind="tiktok")
    with pytest.raises(Invalid, match="http"):
        add_source(session, opd_kode=opd, url="ftp://example.org/feed")
    with pytest.raises(NotFound):
        add_source(session, opd_kode="NOPE", url="https://example.org/feed")
    add_source(session, opd_kode=opd, url="https://example.org/feed")
    with pytest.raises(Conflict, match="sudah terdaftar"):
        add_source(session, opd_kode="BAPPEDA", url="https://example.org/feed")


def test_instagram_is_accepted_with_a_graph_token(session: Session, opd: str) -> None:
    src = add_source(
        session, opd_kode=opd, url="https://www.instagram.com/dinkesmojokerto/", graph_token=True
    )
    assert src.kind == "instagram"


def test_list_counts_items_and_posts_and_remove_keeps_the_posts(session: Session, opd: str) -> None:
    src = add_source(session, opd_kode=opd, url="https://example.org/feed", now=T0)
    assert src.id is not None
    entries = [
        FeedEntry("a", "https://example.org/a", "A", T0 + HOUR),
        FeedEntry("b", "https://example.org/b", "B", T0 - HOUR),
    ]
    record_poll(session, src.id, PollResult(entries=entries), interval=HOUR, now=T0 + HOUR)
    [view] = list_sources(session)
    assert (view.opd_kode, view.items, view.posts, view.failures) == (opd, 2, 1, 0)
    assert list_sources(session, opd_kode="BAPPEDA") == []
    remove_source(session, src.id)
    assert list_sources(session) == []
    assert session.exec(select(FeedItem)).all() == []
    assert [p.url for p in session.exec(select(Post))] == ["https://example.org/a"]
    with pytest.raises(NotFound):
        remove_source(session, src.id)


def test_items_without_a_usable_link_are_remembered_not_posted(session: Session, opd: str) -> None:
    src = add_source(session, opd_kode=opd, url="https://example.org/feed", now=T0)
    assert src.id is not None
    later = T0 + HOUR
    entries = [
        FeedEntry("no-link", None, "Tanpa tautan", later),
        FeedEntry("bad", "javascript:alert(1)", "Jahat", later),
        FeedEntry("long", "https://example.org/long", "x" * 1200, later),
    ]
    outcome = record_poll(session, src.id, PollResult(entries=entries), interval=HOUR, now=later)
    assert outcome.skipped == 2
    [post] = outcome.posts
    assert post.caption is not None and len(post.caption) == 1000 and post.caption.endswith("…")


def test_backoff_doubles_up_to_a_day() -> None:
    interval = timedelta(minutes=30)
    assert [backoff(interval, n) for n in (0, 1, 2, 3)] == [
        interval,
        2 * interval,
        4 * interval,
        8 * interval,
    ]
    assert backoff(interval, 40) == timedelta(hours=24)
