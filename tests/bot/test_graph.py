"""Instagram and Facebook sources through a fake Graph API in the test, on both databases."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlsplit

from sqlalchemy import Engine
from sqlmodel import Session

from bot.graph import GraphConfig
from db.models import FeedSource
from db.posts.sources import add_source
from db.roster.opd import ensure_opd
from tests.feedserver import INTERVAL, Feed, FeedServer, poll, posts

T0 = datetime(2026, 12, 1, 1, 0, tzinfo=UTC)
TOKEN = "EAAG-uji-token"


def graph_source(engine: Engine, url: str) -> int:
    with Session(engine) as session:
        ensure_opd(session, "DINKES", "Dinas Kesehatan")
        src = add_source(session, opd_kode="DINKES", url=url, graph_token=True, now=T0)
        session.commit()
        assert src.id is not None
        return src.id


def answer(body: object, status: int = 200) -> Feed:
    return Feed(json.dumps(body).encode(), status=status, content_type="application/json")


def test_facebook_page_posts_become_submitted_posts(engine: Engine, server: FeedServer) -> None:
    server.feeds["/v21.0/dinkesmojokerto/posts"] = answer(
        {
            "data": [
                {
                    "id": "111_2",
                    "message": "Ayo ke Posyandu\nSabtu ini",
                    "permalink_url": "https://www.facebook.com/dinkesmojokerto/posts/2",
                    "created_time": "2026-12-01T03:00:00+0000",
                },
                {
                    "id": "111_1",
                    "message": "Lama",
                    "permalink_url": "https://www.facebook.com/dinkesmojokerto/posts/1",
                    "created_time": "2026-11-01T03:00:00+0000",
                },
            ]
        }
    )
    graph_source(engine, "https://www.facebook.com/dinkesmojokerto")
    graph = GraphConfig(server.url, TOKEN)
    assert poll(engine, T0 + timedelta(hours=3), graph=None) == []  # no token: not polled at all
    assert server.requests == []
    poll(engine, T0 + timedelta(hours=3), graph=graph)
    [post] = posts(engine)
    assert (post.url, post.caption, post.platform, post.status) == (
        "https://www.facebook.com/dinkesmojokerto/posts/2",
        "Ayo ke Posyandu Sabtu ini",
        "facebook",
        "submitted",
    )
    [(path, headers)] = server.requests
    assert headers["authorization"] == f"Bearer {TOKEN}" and TOKEN not in path
    assert parse_qs(urlsplit(path).query)["fields"] == ["id,message,permalink_url,created_time"]


def test_instagram_by_business_discovery(engine: Engine, server: FeedServer) -> None:
    server.feeds["/v21.0/17841400000000001"] = answer(
        {
            "business_discovery": {
                "media": {
                    "data": [
                        {
                            "id": "1790001",
                            "caption": "Cek kesehatan gratis #mojokerto",
                            "permalink": "https://www.instagram.com/p/Cabc123/",
                            "timestamp": "2026-12-01T04:00:00+0000",
                        }
                    ]
                },
                "id": "17841400000000002",
            },
            "id": "17841400000000001",
        }
    )
    sid = graph_source(engine, "https://www.instagram.com/dinkesmojokerto/")
    # Without the regency's own IG account, discovery cannot be asked: an error, backed off.
    now = T0 + timedelta(hours=4)
    [outcome] = poll(engine, now, graph=GraphConfig(server.url, TOKEN))
    assert outcome.error is not None and "GAUNG_META_IG_USER_ID" in outcome.error
    with Session(engine) as session:
        src = session.get(FeedSource, sid)
        assert src is not None and src.failures == 1
    poll(engine, now + 2 * INTERVAL, graph=GraphConfig(server.url, TOKEN, "17841400000000001"))
    [post] = posts(engine)
    assert (post.url, post.caption, post.platform) == (
        "https://www.instagram.com/p/Cabc123/",
        "Cek kesehatan gratis #mojokerto",
        "instagram",
    )
    [(path, _)] = server.requests
    assert parse_qs(urlsplit(path).query)["fields"] == [
        "business_discovery.username(dinkesmojokerto)"
        "{media.limit(25){id,caption,permalink,timestamp}}"
    ]


def test_graph_errors_back_off(engine: Engine, server: FeedServer) -> None:
    server.feeds["/v21.0/dinkesmojokerto/posts"] = answer(
        {"error": {"message": "Application request limit reached", "code": 4}}, status=403
    )
    sid = graph_source(engine, "https://www.facebook.com/dinkesmojokerto")
    now = T0 + timedelta(hours=1)
    [outcome] = poll(engine, now, graph=GraphConfig(server.url, TOKEN))
    assert outcome.error == "Graph API 4: Application request limit reached"
    with Session(engine) as session:
        src = session.get(FeedSource, sid)
        assert src is not None
        assert (src.failures, src.next_poll_at) == (1, now + 2 * INTERVAL)
    assert posts(engine) == []
