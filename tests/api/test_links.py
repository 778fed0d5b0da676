"""``GET /r/<code>``, the participation JSON and exports with ``opened``, and the Telegram
button that carries the tracked link, from the broadcast to the redirect."""

from __future__ import annotations

import asyncio
import csv
import io
import re
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from fastapi.testclient import TestClient
from openpyxl import load_workbook
from sqlalchemy import Engine
from sqlmodel import Session

from api.app import create_app
from bot.broadcast import Broadcaster, WorkerConfig
from bot.channels.links import open_links_for
from bot.channels.telegram import TelegramChannel
from bot.emulators.telegram import Limits, TelegramEmulator
from db.delivery.confirmations import confirm
from db.delivery.opens import open_code, open_key
from db.delivery.outbox import mark_sent
from db.engine import session_scope
from db.posts.lifecycle import approve_post, submit_post
from db.settings import Settings
from db.types import utcnow
from tests.api.conftest import SAME_ORIGIN, app_settings, make_key
from tests.factories import add_asn, delivery_of, register

NOV = datetime(2026, 11, 10, 3, 0, tzinfo=UTC)
PARAMS = {"start": "2026-11-01", "end": "2026-12-01"}
PUBLIC = "https://gaung.mojokertokab.go.id"


@pytest.fixture
def client(database_url: str) -> Iterator[TestClient]:
    with TestClient(create_app(app_settings(database_url)), headers=SAME_ORIGIN) as client:
        yield client


def seed(engine: Engine) -> tuple[str, str]:
    """Two deliveries of one post in DINKES; returns both codes."""
    with Session(engine) as session:
        a, b = add_asn(session, opd="DINKES"), add_asn(session, opd="DINKES")
        register(session, a)
        register(session, b)
        post = submit_post(session, opd_kode="DINKES", url="https://instagram.com/p/uji")
        assert post.id
        approve_post(session, post.id, now=NOV)
        codes = []
        for who in (a, b):
            d = delivery_of(session, post.id, who)
            mark_sent(session, d, "1")
            assert d.id
            codes.append(open_code(open_key(session), d.id))
        confirm(session, delivery_of(session, post.id, b), "like")
        session.commit()
        return codes[0], codes[1]


def test_open_redirects_to_the_post_and_counts_once(client: TestClient, engine: Engine) -> None:
    code, _ = seed(engine)
    for _ in range(2):
        response = client.get(f"/r/{code}", follow_redirects=False)
        assert response.status_code == 302
        assert response.headers["location"] == "https://instagram.com/p/uji"
        assert response.headers["referrer-policy"] == "no-referrer"
        assert response.headers["cache-control"] == "no-store"
    headers = make_key(engine, "diskominfo")
    body = client.get("/api/v1/participation", params=PARAMS, headers=headers).json()
    row = {r["kode"]: r for r in body["opd"]}["DINKES"]
    assert (row["delivered"], row["opened"], row["liked"]) == (2, 1, 1)
    assert body["total"]["opened"] == 1
    assert body["labels"]["opened"] == "diukur"
    assert body["labels"]["liked"] == "dikonfirmasi sendiri"

    text = client.get("/api/v1/participation.csv", params=PARAMS, headers=headers).text
    rows = {r["kode"]: r for r in csv.DictReader(io.StringIO(text))}
    assert (rows["DINKES"]["opened"], rows["TOTAL"]["opened"]) == ("1", "1")
    xlsx = client.get("/api/v1/participation.xlsx", params=PARAMS, headers=headers)
    sheet = load_workbook(io.BytesIO(xlsx.content)).active
    assert sheet is not None
    table = [[c.value for c in row] for row in sheet.iter_rows(min_row=3)]
    column = table[0].index("Dibuka (diukur)")
    assert "Like (dikonfirmasi sendiri)" in table[0]
    assert next(r for r in table if r[0] == "DINKES")[column] == 1

    key = headers["Authorization"].removeprefix("Bearer ")
    client.post("/dashboard/masuk", data={"kunci": key}, follow_redirects=False)
    html = client.get("/dashboard", params={"dari": "2026-11-01", "sampai": "2026-11-30"}).text
    found = re.search(r'data-testid="angka-dibuka"[^>]*>([^<]*)<', html)
    assert found and found.group(1).strip() == "1"
    per_post = re.search(r'data-testid="postingan-dibuka"[^>]*>([^<]*)<', html)
    assert per_post and per_post.group(1).strip() == "1"
    assert "dikonfirmasi sendiri" in html


def test_unknown_codes_get_a_plain_404_page(client: TestClient, engine: Engine) -> None:
    code, _ = seed(engine)
    for bad in ("tidakada", code[:-2] + "xx", "a" * 40, "%00"):
        response = client.get(f"/r/{bad}", follow_redirects=False)
        assert response.status_code == 404
        assert response.headers["content-type"].startswith("text/html")
        assert "Tautan tidak dikenal" in response.text
        assert "location" not in response.headers


def test_the_telegram_button_opens_through_gaung(
    client: TestClient, engine: Engine, database_url: str
) -> None:
    """Broadcast with GAUNG_PUBLIC_URL set, follow the button's link, see the open counted."""
    with TelegramEmulator(Limits(rate=1000, burst=200, chat_burst=10)) as tg:
        with session_scope(engine) as session:
            user = tg.world.add_user("ASN", started=True)
            asn = add_asn(session, opd="DINKES")
            register(session, asn, external_id=str(user.id))
            post = submit_post(session, opd_kode="DINKES", url="https://instagram.com/p/tg")
            assert post.id
            approve_post(session, post.id, now=utcnow())
            post_id = post.id

        links = open_links_for(Settings(database_url=database_url, public_url=PUBLIC))
        assert links is not None
        assert open_links_for(Settings(database_url=database_url)) is None

        async def send() -> None:
            channel = TelegramChannel(tg.token, tg.url, open_links=links)
            config = WorkerConfig(idle_poll=0.05, heartbeat_interval=0.2)
            worker = Broadcaster(engine, {"telegram": channel}, {"telegram": 100}, config=config)
            stop = asyncio.Event()
            runner = asyncio.create_task(worker.run(stop))
            for _ in range(200):
                if tg.world.messages(user.id):
                    break
                await asyncio.sleep(0.05)
            stop.set()
            await runner
            await channel.aclose()

        asyncio.run(send())
        [message] = tg.world.messages(user.id)
    assert "https://instagram.com/p/tg" in message.text  # the text keeps the post's own URL
    [url] = [b["url"] for b in message.buttons() if b.get("url")]
    assert url.startswith(f"{PUBLIC}/r/") and "instagram" not in url
    response = client.get(url.removeprefix(PUBLIC), follow_redirects=False)
    assert response.headers["location"] == "https://instagram.com/p/tg"
    headers = make_key(engine, "diskominfo")
    detail = client.get(f"/api/v1/posts/{post_id}", headers=headers).json()
    assert detail["participation"]["total"]["opened"] == 1
