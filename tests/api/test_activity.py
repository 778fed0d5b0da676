"""``GET /api/v1/activity``: per OPD and ISO week (WIB), posts submitted by admins and by feeds
and posts approved, hand-counted; the silent OPD; an OPD key sees its own OPD only."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlmodel import Session

from db.posts.lifecycle import approve_post, submit_post
from db.posts.sources import FeedEntry, PollResult, add_source, record_poll
from db.roster.opd import ensure_opd
from tests.api.conftest import make_key

WIB = ZoneInfo("Asia/Jakarta")
# Monday 3 November 2025 to Monday 17 November: ISO weeks 2025-W45 and 2025-W46.
WINDOW = {"start": "2025-11-03", "end": "2025-11-17"}


def wib(month: int, day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2025, month, day, hour, minute, tzinfo=WIB).astimezone(UTC)


def seed(engine: Engine) -> None:
    """DINKES: an admin post on Tuesday (approved the same day), one late on Sunday night WIB
    (Sunday afternoon UTC: still week 45) approved on Monday, a feed post on Tuesday of week 46.
    DISDIK: submitted in October, approved on the window's first morning. BAPPEDA: nothing."""
    with Session(engine) as session:
        for kode in ("DINKES", "DISDIK", "BAPPEDA"):
            ensure_opd(session, kode, f"OPD {kode}")

        def post(opd: str, url: str, submitted: datetime, approved: datetime | None) -> None:
            p = submit_post(session, opd_kode=opd, url=url)
            p.submitted_at = submitted
            session.add(p)
            session.flush()
            if approved is not None:
                approve_post(session, p.id or 0, now=approved)

        post("DINKES", "https://instagram.com/p/selasa", wib(11, 4, 10), wib(11, 4, 11))
        post("DINKES", "https://instagram.com/p/minggu", wib(11, 9, 23, 30), wib(11, 10, 8))
        post("DISDIK", "https://instagram.com/p/oktober", wib(10, 20, 10), wib(11, 3, 9))
        source = add_source(session, opd_kode="DINKES", url="https://dinkes.example.go.id/feed")
        assert source.id is not None
        entry = FeedEntry("berita-1", "https://dinkes.example.go.id/berita-1", "Berita", None)
        found = record_poll(
            session,
            source.id,
            PollResult(entries=[entry]),
            interval=timedelta(minutes=30),
            now=wib(11, 11, 12),
        )
        assert found.skipped == 1  # a first poll only remembers what the feed already held
        newer = FeedEntry("berita-2", "https://dinkes.example.go.id/berita-2", "Berita 2", None)
        found = record_poll(
            session,
            source.id,
            PollResult(entries=[newer, entry]),
            interval=timedelta(minutes=30),
            now=wib(11, 11, 12),
        )
        [feed_post] = found.posts
        feed_post.submitted_at = wib(11, 11, 12)
        session.add(feed_post)
        session.commit()


def weeks(row: dict[str, Any]) -> list[tuple[Any, ...]]:
    return [
        (w["label"], w["submitted_by_admin"], w["submitted_by_feed"], w["approved"])
        for w in row["weeks"]
    ]


def test_activity_per_opd_and_iso_week_with_the_silent_opd(
    client: TestClient, engine: Engine
) -> None:
    seed(engine)
    answer = client.get("/api/v1/activity", params=WINDOW, headers=make_key(engine, "diskominfo"))
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert (body["start"], body["end"], body["silent_threshold_days"]) == (
        "2025-11-03T00:00:00+07:00",
        "2025-11-17T00:00:00+07:00",
        14,
    )
    rows = {r["kode"]: r for r in body["opd"]}
    assert list(rows) == ["BAPPEDA", "DINKES", "DISDIK"]
    assert weeks(rows["DINKES"]) == [("2025-W45", 2, 0, 1), ("2025-W46", 0, 1, 1)]
    assert weeks(rows["DISDIK"]) == [("2025-W45", 0, 0, 1), ("2025-W46", 0, 0, 0)]
    assert weeks(rows["BAPPEDA"]) == [("2025-W45", 0, 0, 0), ("2025-W46", 0, 0, 0)]
    assert rows["DINKES"]["weeks"][0]["start"] == "2025-11-03T00:00:00+07:00"
    dinkes = {k: rows["DINKES"][k] for k in ("submitted_by_admin", "submitted_by_feed", "approved")}
    assert dinkes == {"submitted_by_admin": 2, "submitted_by_feed": 1, "approved": 2}
    # Silence as of the window's end: DINKES last submitted 5½ days before, DISDIK 27½.
    assert (rows["DINKES"]["silent"], rows["DINKES"]["silent_days"]) == (False, 5)
    assert rows["DINKES"]["last_submitted_at"] == "2025-11-11T12:00:00+07:00"
    assert (rows["DISDIK"]["silent"], rows["DISDIK"]["silent_days"]) == (True, 27)
    assert (rows["BAPPEDA"]["silent"], rows["BAPPEDA"]["silent_days"]) == (True, None)
    assert body["silent"] == ["BAPPEDA", "DISDIK"]


def test_an_opd_key_sees_its_own_opd_only(client: TestClient, engine: Engine) -> None:
    seed(engine)
    own = make_key(engine, "opd", "DINKES")
    body = client.get("/api/v1/activity", params=WINDOW, headers=own).json()
    assert [r["kode"] for r in body["opd"]] == ["DINKES"] and body["silent"] == []
    other = client.get("/api/v1/activity", params={**WINDOW, "opd": "DISDIK"}, headers=own)
    assert other.status_code == 403
    assert other.json() == {"detail": "kunci OPD hanya boleh melihat OPD-nya sendiri"}
    assert client.get("/api/v1/activity", params=WINDOW).status_code == 401
    unknown = client.get(
        "/api/v1/activity", params={"opd": "TIDAKADA"}, headers=make_key(engine, "diskominfo")
    )
    assert unknown.status_code == 422 and "TIDAKADA" in unknown.json()["detail"]


def test_the_csv_has_a_row_per_opd_and_week(client: TestClient, engine: Engine) -> None:
    seed(engine)
    answer = client.get(
        "/api/v1/activity.csv", params=WINDOW, headers=make_key(engine, "diskominfo")
    )
    assert answer.status_code == 200
    assert answer.headers["content-disposition"] == (
        'attachment; filename="aktivitas-opd-20251103-20251117.csv"'
    )
    lines = answer.text.splitlines()
    assert lines[0] == (
        "kode,nama,minggu,mulai,diajukan_admin,diajukan_feed,disetujui,"
        "hari_sejak_pengajuan_terakhir,diam"
    )
    assert len(lines) == 7
    assert "DINKES,OPD DINKES,2025-W45,2025-11-03T00:00:00+07:00,2,0,1,5,tidak" in lines
    assert "BAPPEDA,OPD BAPPEDA,2025-W46,2025-11-10T00:00:00+07:00,0,0,0,,ya" in lines


def _sign_in(client: TestClient, engine: Engine, role: str, opd: str | None = None) -> None:
    key = make_key(engine, role, opd)["Authorization"].removeprefix("Bearer ")
    response = client.post("/dashboard/masuk", data={"kunci": key}, follow_redirects=False)
    assert response.status_code == 303


def test_the_dashboard_shows_activity_and_the_silent_opd(
    client: TestClient, engine: Engine
) -> None:
    seed(engine)
    _sign_in(client, engine, "diskominfo")
    page = client.get("/dashboard", params={"dari": "2025-11-03", "sampai": "2025-11-16"})
    assert page.status_code == 200
    section = page.text.split('data-testid="aktivitas"')[1].split("</section>")[0]
    assert re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", section.split("opd-diam")[1])).startswith(
        '"> Diam ≥14 hari (2): BAPPEDA , DISDIK'
    )
    rows = re.findall(r"<tr>(.*?)</tr>", section.split("<tbody>")[1], re.S)
    cells = [
        [" ".join(c.split()) for c in re.findall(r"<td[^>]*>(.*?)</td>", r, re.S)] for r in rows
    ]
    assert [[re.sub(r"<[^>]+>", "", c) for c in row] for row in cells] == [
        ["BAPPEDA", "0", "0", "0", "belum pernah", "diam"],
        ["DINKES", "2", "1", "2", "11 Nov 2025 12.00 WIB", "aktif"],
        ["DISDIK", "0", "0", "1", "20 Okt 2025 10.00 WIB", "diam 27 hari"],
    ]
    found = re.search(r'<script type="application/json" id="data-grafik">(.*?)</script>', page.text)
    assert found
    assert json.loads(found.group(1))["aktivitas"] == {
        "labels": ["2025-W45", "2025-W46"],
        "admin": [2, 0],
        "feed": [0, 1],
        "disetujui": [2, 1],
    }
    download = client.get(
        "/dashboard/aktivitas.csv", params={"dari": "2025-11-03", "sampai": "2025-11-16"}
    )
    assert download.status_code == 200 and len(download.text.splitlines()) == 7
    # An OPD admin's page shows their own OPD only.
    client.cookies.clear()
    _sign_in(client, engine, "opd", "DISDIK")
    own = client.get("/dashboard", params={"dari": "2025-11-03", "sampai": "2025-11-16"}).text
    section = own.split('data-testid="aktivitas"')[1].split("</section>")[0]
    assert "DISDIK" in section and "DINKES" not in section and "BAPPEDA" not in section
