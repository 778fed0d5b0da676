"""A small HTTP server standing in for OPD websites and YouTube in the feed tests.

Each path serves a ``Feed`` the test can change between polls; with ``etag`` set, a request
carrying the same ``If-None-Match`` gets a 304, as WordPress and YouTube answer. Every request's
headers are kept so tests can check the poller asked politely. ``poll`` and ``posts`` run the
poller once and read what it made, for the feed and the Graph API tests alike.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from sqlalchemy import Engine
from sqlmodel import Session, col, select

from bot.feeds import FeedPoller, WaitingNotice
from bot.graph import GraphConfig
from db.models import Post
from db.posts.sources import PollOutcome

INTERVAL = timedelta(minutes=30)  # how often the tests' poller polls a source


@dataclass
class Feed:
    body: bytes = b""
    status: int = 200
    content_type: str = "application/rss+xml; charset=utf-8"
    etag: str | None = None
    last_modified: str | None = None


@dataclass
class FeedServer:
    url: str
    feeds: dict[str, Feed] = field(default_factory=dict)
    requests: list[tuple[str, dict[str, str]]] = field(default_factory=list)

    def at(self, path: str) -> str:
        return f"{self.url}{path}"


@contextmanager
def feed_server() -> Iterator[FeedServer]:
    state = FeedServer(url="")

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            headers = {k.lower(): v for k, v in self.headers.items()}
            state.requests.append((self.path, headers))
            # The exact path and query first, else the path alone (Graph API calls).
            feed = state.feeds.get(self.path) or state.feeds.get(self.path.split("?")[0])
            if feed is None:
                self._answer(404, b"not found", "text/plain")
                return
            if feed.etag and headers.get("if-none-match") == feed.etag:
                self._answer(304, b"", None, feed)
                return
            self._answer(feed.status, feed.body, feed.content_type, feed)

        def _answer(
            self, status: int, body: bytes, content_type: str | None, feed: Feed | None = None
        ) -> None:
            self.send_response(status)
            if content_type:
                self.send_header("Content-Type", content_type)
            if feed is not None and feed.etag:
                self.send_header("ETag", feed.etag)
            if feed is not None and feed.last_modified:
                self.send_header("Last-Modified", feed.last_modified)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if body:
                self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


@dataclass(frozen=True)
class FeedFormat:
    """How one kind of feed is written: a head, one ``entry`` per item (its ``key``, ``link``,
    ``title`` and ``date`` filled in), a tail. Called with the items, it is the feed's body."""

    head: str
    entry: str
    tail: str

    def __call__(self, *items: tuple[str, str, str, str]) -> bytes:
        body = "".join(
            self.entry.format(key=key, link=link, title=title, date=date)
            for key, link, title, date in items
        )
        return (self.head + body + self.tail).encode()


# An RSS 2.0 feed like WordPress writes; items are (guid, link, title, RFC 822 date).
rss = FeedFormat(
    head='<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel>'
    "<title>Dinas Kesehatan</title><link>https://dinkes.mojokertokab.go.id</link>"
    "<description>Berita</description>",
    entry="<item><title>{title}</title><link>{link}</link>"
    '<guid isPermaLink="false">{key}</guid><pubDate>{date}</pubDate></item>',
    tail="</channel></rss>",
)
# An Atom 1.0 feed; items are (id, link, title, RFC 3339 date).
atom = FeedFormat(
    head='<?xml version="1.0" encoding="utf-8"?><feed xmlns="http://www.w3.org/2005/Atom">'
    "<title>Bappeda</title><id>urn:bappeda</id><updated>2026-12-01T00:00:00Z</updated>",
    entry='<entry><id>{key}</id><title>{title}</title><link rel="alternate" href="{link}"/>'
    "<published>{date}</published><updated>{date}</updated></entry>",
    tail="</feed>",
)


def youtube(channel_id: str, *videos: tuple[str, str, str]) -> bytes:
    """YouTube's channel feed shape (Atom with yt: and media: extensions); (video id, title,
    RFC 3339 date)."""
    body = "".join(
        f"<entry><id>yt:video:{vid}</id><yt:videoId>{vid}</yt:videoId>"
        f"<yt:channelId>{channel_id}</yt:channelId><title>{title}</title>"
        f'<link rel="alternate" href="https://www.youtube.com/watch?v={vid}"/>'
        f"<author><name>Diskominfo</name></author>"
        f"<published>{date}</published><updated>{date}</updated>"
        f"<media:group><media:title>{title}</media:title>"
        f'<media:thumbnail url="https://i1.ytimg.com/vi/{vid}/hqdefault.jpg" width="480" '
        f'height="360"/><media:description>{title}</media:description></media:group></entry>'
        for vid, title, date in videos
    )
    return (
        '<?xml version="1.0" encoding="UTF-8"?>'
        '<feed xmlns:yt="http://www.youtube.com/xml/schemas/2015" '
        'xmlns:media="http://search.yahoo.com/mrss/" xmlns="http://www.w3.org/2005/Atom">'
        f'<link rel="self" href="http://www.youtube.com/feeds/videos.xml?channel_id={channel_id}"/>'
        f"<id>yt:channel:{channel_id}</id><yt:channelId>{channel_id}</yt:channelId>"
        f"<title>Diskominfo</title><published>2020-01-01T00:00:00+00:00</published>{body}</feed>"
    ).encode()


def poll(
    engine: Engine,
    at: datetime,
    *,
    graph: GraphConfig | None = None,
    notices: list[WaitingNotice] | None = None,
) -> list[PollOutcome]:
    """One pass of the poller at ``at``; the admins' notices, if asked, go to ``notices``."""

    async def run() -> list[PollOutcome]:
        async def tell(notice: WaitingNotice) -> None:
            assert notices is not None
            notices.append(notice)

        notify = tell if notices is not None else None
        poller = FeedPoller(engine, interval=INTERVAL, notify=notify, graph=graph)
        try:
            return await poller.poll_once(at)
        finally:
            await poller.aclose()

    return asyncio.run(run())


def posts(engine: Engine) -> list[Post]:
    with Session(engine) as session:
        return list(session.exec(select(Post).order_by(col(Post.id))))
