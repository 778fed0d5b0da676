"""The feed poller against a feed server in the test: RSS, Atom, YouTube's feed shape, a broken
feed, a feed that repeats items, and one that answers 304; on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine
from sqlmodel import Session, col, select

from bot.feeds import FeedPoller, WaitingNotice
from db.accounts.admins import add_admin
from db.models import FeedItem, FeedSource, PostStatus
from db.posts.sources import BASELINE, PollOutcome, add_source
from db.roster.opd import ensure_opd
from tests.feedserver import INTERVAL, Feed, FeedServer, atom, poll, posts, rss, youtube

T0 = datetime(2026, 12, 1, 1, 0, tzinfo=UTC)  # when the source is registered
OLD = "Mon, 30 Nov 2026 08:00:00 +0700"  # before T0
NEW = "Tue, 01 Dec 2026 09:00:00 +0700"  # 02:00 UTC, after T0
NEWER = "Tue, 01 Dec 2026 10:00:00 +0700"


def source(engine: Engine, url: str, *, kind: str | None = None, opd: str = "DINKES") -> int:
    with Session(engine) as session:
        ensure_opd(session, opd, f"Dinas {opd}")
        src = add_source(session, opd_kode=opd, url=url, kind=kind, now=T0)
        session.commit()
        assert src.id is not None
        return src.id


def state(engine: Engine, source_id: int) -> FeedSource:
    with Session(engine, expire_on_commit=False) as session:
        src = session.get(FeedSource, source_id)
        assert src is not None
        return src


def test_rss_new_items_become_submitted_posts_once_and_the_back_catalogue_does_not(
    engine: Engine, server: FeedServer
) -> None:
    server.feeds["/feed/"] = Feed(
        rss(
            ("p-2", "https://dinkes.mojokertokab.go.id/vaksin", "Vaksinasi  di\nPuskesmas", NEW),
            ("p-1", "https://dinkes.mojokertokab.go.id/lama", "Berita lama", OLD),
        )
    )
    sid = source(engine, server.at("/feed/"))
    with Session(engine) as session:
        admin, _ = add_admin(session, role="opd", opd_kode="DINKES", telegram_id=777)
        session.commit()
        admin_id = admin.id

    notices: list[WaitingNotice] = []
    first = poll(engine, T0 + timedelta(hours=2), notices=notices)

    [post] = posts(engine)
    assert (post.url, post.caption, post.status) == (
        "https://dinkes.mojokertokab.go.id/vaksin",
        "Vaksinasi di Puskesmas",
        PostStatus.SUBMITTED,
    )
    assert post.approved_at is None  # never sent without Diskominfo's approval
    assert [(o.source_id, [p.id for p in o.posts], o.skipped) for o in first] == [
        (sid, [post.id], 1)
    ]
    with Session(engine) as session:
        items = session.exec(select(FeedItem).order_by(col(FeedItem.item_key))).all()
        assert [(i.item_key, i.post_id, i.skipped) for i in items] == [
            ("p-1", None, BASELINE),
            ("p-2", post.id, None),
        ]
    [notice] = notices
    assert (notice.post_id, notice.admin_ids) == (post.id, (admin_id,))
    assert f"#{post.id}" in notice.text and post.url in notice.text
    assert "menunggu persetujuan Diskominfo" in notice.text

    # The next poll, once due: one more item; the ones seen stay seen.
    server.feeds["/feed/"].body = rss(
        ("p-3", "https://dinkes.mojokertokab.go.id/posyandu", "Posyandu", NEWER),
        ("p-2", "https://dinkes.mojokertokab.go.id/vaksin", "Vaksinasi di Puskesmas", NEW),
        ("p-1", "https://dinkes.mojokertokab.go.id/lama", "Berita lama", OLD),
    )
    assert poll(engine, T0 + timedelta(hours=2, minutes=10)) == []  # not due yet
    poll(engine, T0 + timedelta(hours=2) + INTERVAL)
    assert [p.url for p in posts(engine)] == [
        "https://dinkes.mojokertokab.go.id/vaksin",
        "https://dinkes.mojokertokab.go.id/posyandu",
    ]
    assert len(server.requests) == 2


ATOM = Feed(
    atom(
        (
            "urn:b:2",
            "https://bappeda.mojokertokab.go.id/musrenbang",
            "Musrenbang 2027",
            "2026-12-01T03:00:00Z",
        ),
        ("urn:b:1", "https://bappeda.mojokertokab.go.id/lama", "Lama", "2026-11-01T03:00:00Z"),
    ),
    content_type="application/atom+xml",
)
YOUTUBE_WATCH = "https://www.youtube.com/watch?v="
YOUTUBE = Feed(
    youtube(
        "UCabc",
        ("vid00000002", "Bupati meresmikan jembatan", "2026-12-01T04:00:00+00:00"),
        ("vid00000001", "Video lama", "2026-10-01T04:00:00+00:00"),
    ),
    content_type="application/atom+xml; charset=UTF-8",
)


@pytest.mark.parametrize(
    ("path", "feed", "kind", "opd", "hours", "newest"),
    [
        pytest.param(
            "/atom",
            ATOM,
            None,
            "BAPPEDA",
            3,
            ("https://bappeda.mojokertokab.go.id/musrenbang", "Musrenbang 2027", "web"),
            id="atom",
        ),
        pytest.param(
            "/feeds/videos.xml?channel_id=UCabc",
            YOUTUBE,
            "youtube",
            "DINKES",
            4,
            (
                "https://www.youtube.com/watch?v=vid00000002",
                "Bupati meresmikan jembatan",
                "youtube",
            ),
            id="youtube-channel",
        ),
    ],
)
def test_atom_and_youtube_feeds_give_their_newest_entry(
    engine: Engine,
    server: FeedServer,
    path: str,
    feed: Feed,
    kind: str | None,
    opd: str,
    hours: int,
    newest: tuple[str, str, str],
) -> None:
    server.feeds[path] = feed
    source(engine, server.at(path), kind=kind, opd=opd)
    poll(engine, T0 + timedelta(hours=hours))
    [post] = posts(engine)
    assert (post.url, post.caption, post.platform) == newest


def test_broken_feed_backs_off_and_recovers(engine: Engine, server: FeedServer) -> None:
    server.feeds["/rusak"] = Feed(
        b"<html><body>Maintenance</body></html>", content_type="text/html"
    )
    sid = source(engine, server.at("/rusak"))
    now = T0 + timedelta(hours=1)
    [outcome] = poll(engine, now)
    assert outcome.error is not None and "feed tidak bisa dibaca" in outcome.error
    src = state(engine, sid)
    assert (src.failures, src.next_poll_at) == (1, now + 2 * INTERVAL)

    server.feeds["/rusak"] = Feed(b"oops", status=500)
    now = now + 2 * INTERVAL
    [outcome] = poll(engine, now)
    src = state(engine, sid)
    assert (outcome.error, src.failures, src.next_poll_at) == ("HTTP 500", 2, now + 4 * INTERVAL)
    assert posts(engine) == []

    server.feeds["/rusak"] = Feed(rss(("x", "https://dinkes.mojokertokab.go.id/x", "X", NEW)))
    now = now + 4 * INTERVAL
    poll(engine, now)
    src = state(engine, sid)
    assert (src.failures, src.last_error, src.next_poll_at) == (0, None, now + INTERVAL)
    assert [p.caption for p in posts(engine)] == ["X"]


def test_a_feed_repeating_items_makes_each_post_once(engine: Engine, server: FeedServer) -> None:
    item = ("same", "https://dinkes.mojokertokab.go.id/sama", "Sama", NEW)
    # Listed twice in one answer, and again in every later answer (no validators at all).
    server.feeds["/ulang"] = Feed(rss(item, item))
    source(engine, server.at("/ulang"))
    now = T0 + timedelta(hours=2)
    for _ in range(3):
        poll(engine, now)
        now += INTERVAL
    assert [p.url for p in posts(engine)] == ["https://dinkes.mojokertokab.go.id/sama"]
    # The same link under a new guid (a re-published article): still one open post.
    server.feeds["/ulang"].body = rss(
        ("other", "https://dinkes.mojokertokab.go.id/sama", "Sama lagi", NEWER)
    )
    [outcome] = poll(engine, now)
    assert (outcome.posts, outcome.skipped) == ([], 1)
    assert len(posts(engine)) == 1


def test_unchanged_feed_answers_304_to_a_conditional_request(
    engine: Engine, server: FeedServer
) -> None:
    server.feeds["/etag"] = Feed(
        rss(("a", "https://dinkes.mojokertokab.go.id/a", "A", NEW)),
        etag='"v1"',
        last_modified="Tue, 01 Dec 2026 02:00:00 GMT",
    )
    sid = source(engine, server.at("/etag"))
    now = T0 + timedelta(hours=2)
    poll(engine, now)
    assert "if-none-match" not in server.requests[0][1]
    src = state(engine, sid)
    assert (src.etag, src.last_modified) == ('"v1"', "Tue, 01 Dec 2026 02:00:00 GMT")

    now += INTERVAL
    [outcome] = poll(engine, now)
    _, headers = server.requests[1]
    assert headers["if-none-match"] == '"v1"'
    assert headers["if-modified-since"] == "Tue, 01 Dec 2026 02:00:00 GMT"
    assert headers["user-agent"].startswith("Gaung/")
    assert (outcome.posts, outcome.skipped, outcome.error) == ([], 0, None)
    src = state(engine, sid)
    assert (src.etag, src.last_ok_at, src.next_poll_at) == ('"v1"', now, now + INTERVAL)
    assert len(posts(engine)) == 1


def test_two_pollers_at_once_poll_a_source_once(engine: Engine, server: FeedServer) -> None:
    server.feeds["/f"] = Feed(rss(("a", "https://dinkes.mojokertokab.go.id/a", "A", NEW)))
    source(engine, server.at("/f"))
    now = T0 + timedelta(hours=2)

    async def both() -> list[list[PollOutcome]]:
        pollers = [FeedPoller(engine, interval=INTERVAL) for _ in range(2)]
        try:
            return list(await asyncio.gather(*(p.poll_once(now) for p in pollers)))
        finally:
            for p in pollers:
                await p.aclose()

    results = asyncio.run(both())
    assert sorted(len(r) for r in results) == [0, 1]
    assert len(server.requests) == 1
    assert len(posts(engine)) == 1


def test_the_worker_loop_polls_until_stopped(engine: Engine, server: FeedServer) -> None:
    """What ``gaung worker`` starts: a source due now is polled at once; stop ends the loop."""
    server.feeds["/loop"] = Feed(rss())
    sid = source(engine, server.at("/loop"))

    async def run() -> None:
        stop = asyncio.Event()
        task = asyncio.create_task(FeedPoller(engine, interval=INTERVAL).run(stop))
        for _ in range(100):
            if server.requests:
                break
            await asyncio.sleep(0.05)
        stop.set()
        await asyncio.wait_for(task, 5)

    asyncio.run(run())
    assert [path for path, _ in server.requests] == ["/loop"]
    assert state(engine, sid).last_ok_at is not None
