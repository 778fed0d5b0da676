"""Issue 12, "an OPD key sees other OPDs", over every route rather than one: each GET that an
OPD key (or its dashboard session) may open is asked with DINKES's key and no ``opd`` filter,
in a world where DISDIK has its own ASN, deliveries, likes and post, some of them on
DINKES's post. No answer (JSON, CSV, XLSX or the page) may name DISDIK or hold its post,
while Diskominfo's answer to the same request does: so the marker is there to be leaked.

The routes come from ``POLICIES`` of the authorisation matrix, which is checked against the
app's own routes there: a new OPD-scoped route is tried here without anyone listing it.
"""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime, timedelta

from fastapi.testclient import TestClient
from openpyxl import load_workbook
from sqlalchemy import Engine
from sqlmodel import Session

from api.app import create_app
from api.routes.dashboard import COOKIE
from db.delivery.confirmations import confirm
from db.delivery.outbox import mark_sent
from db.posts.lifecycle import approve_post, submit_post
from tests.api.conftest import SAME_ORIGIN, app_settings, make_key
from tests.api.test_authorization import POLICIES
from tests.factories import add_asn, delivery_of, register

# What only DISDIK's data carries: its code, its name, its own post's URL.
MARKERS = ("DISDIK", "Dinas Pendidikan", "disdik-sendiri")
# Routes that name no OPD: the one about DINKES alone whoever asks (its path names DINKES), and
# the trend, whose buckets carry figures only (checked by its numbers instead).
NAMELESS = {"/api/v1/opd/{kode}/asn", TREND := "/api/v1/participation/trend"}


def _seed(engine: Engine) -> int:
    """Two OPDs; DINKES's post reaches people of both; DISDIK has a post of its own. Approved
    an hour ago, so every route's default window (the last 30 days) holds them."""
    now = datetime.now(UTC) - timedelta(hours=1)
    with Session(engine) as session:
        dinkes = [add_asn(session, opd="DINKES", opd_nama="Dinas Kesehatan") for _ in range(2)]
        disdik = [add_asn(session, opd="DISDIK", opd_nama="Dinas Pendidikan") for _ in range(2)]
        for asn in dinkes + disdik:
            register(session, asn)
        ours = submit_post(session, opd_kode="DINKES", url="https://instagram.com/p/dinkes")
        theirs = submit_post(
            session, opd_kode="DISDIK", url="https://instagram.com/p/disdik-sendiri"
        )
        assert ours.id is not None and theirs.id is not None
        for post_id in (ours.id, theirs.id):
            approve_post(session, post_id, now=now)
            for asn in dinkes + disdik:
                delivery = delivery_of(session, post_id, asn)
                mark_sent(session, delivery, "1")
                confirm(session, delivery, "like")
        session.commit()
        return ours.id


def _text(content: bytes, media_type: str) -> str:
    """What a person reading the answer sees: a workbook's cells, else the text."""
    if "spreadsheetml" in media_type:
        book = load_workbook(io.BytesIO(content), read_only=True)
        return "\n".join(
            " ".join(str(v) for v in row if v is not None)
            for sheet in book.worksheets
            for row in sheet.iter_rows(values_only=True)
        )
    return content.decode()


def _answers(client: TestClient, post_id: int, role: str, auth: dict[str, str]) -> dict[str, str]:
    """Each OPD-scoped GET asked with ``auth`` (an API key, or a dashboard session signed in
    with it), without an ``opd`` filter: path -> the answer's text."""
    client.cookies.clear()
    signed = client.post("/dashboard/masuk", data={"kunci": auth["Authorization"][7:]})
    assert signed.status_code == 200, (role, signed.text[:200])
    session_cookie = client.cookies[COOKIE]
    found: dict[str, str] = {}
    for (method, path), policy in sorted(POLICIES.items()):
        if method != "GET" or policy.kind not in ("opd_scoped", "dashboard"):
            continue
        url = path.replace("{post_id}", str(post_id)).replace("{kode}", "DINKES")
        client.cookies.clear()
        if policy.kind == "dashboard":
            client.cookies.set(COOKIE, session_cookie, path="/dashboard")
            response = client.get(url, follow_redirects=False)
        else:
            response = client.get(url, headers=auth)
        assert response.status_code == 200, (role, path, response.status_code, response.text[:200])
        found[path] = _text(response.content, response.headers["content-type"])
    return found


def test_an_opd_key_sees_no_other_opd_on_any_route(database_url: str, engine: Engine) -> None:
    post_id = _seed(engine)
    with TestClient(create_app(app_settings(database_url)), headers=SAME_ORIGIN) as client:
        every = _answers(client, post_id, "diskominfo", make_key(engine, "diskominfo"))
        own = _answers(client, post_id, "opd", make_key(engine, "opd", "DINKES"))
    assert len(own) >= 12, sorted(own)  # participation ×4, posts ×2, opd asn, activity, dashboard
    unseen = {p for p, text in every.items() if not any(m in text for m in MARKERS)}
    assert unseen == NAMELESS, "Diskominfo should see DISDIK there: the test proves nothing"
    # Two posts, each delivered to and liked by 2 DINKES and 2 DISDIK people.
    assert json.loads(every[TREND])["total"]["delivered"] == 8
    assert json.loads(own[TREND])["total"]["delivered"] == 4
    leaks = {p: [m for m in MARKERS if m in text] for p, text in own.items()}
    assert {p: found for p, found in leaks.items() if found} == {}
    assert all("DINKES" in text for path, text in own.items() if path != TREND)
