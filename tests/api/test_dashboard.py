"""The dashboard over HTTP: sign-in by key and by bot link, what each viewer sees, downloads."""

from __future__ import annotations

import csv
import io
import itertools
import json
import re
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from httpx import Response
from openpyxl import load_workbook
from sqlalchemy import Engine
from sqlmodel import Session, select

from api.routes.dashboard import COOKIE
from db.accounts.admins import add_admin
from db.accounts.apikeys import revoke_api_key
from db.accounts.signing import dashboard_link
from db.models import Admin, ApiKey, Post
from db.posts.lifecycle import approve_post, submit_post
from db.reporting.dashboard import ADMIN, subject_of
from db.types import utcnow
from tests.api.conftest import SECRET_KEY, make_key
from tests.api.november import WIB, seed_november
from tests.factories import add_asn

NOVEMBER = {"dari": "2026-11-01", "sampai": "2026-11-30"}
_telegram_ids = itertools.count(7001)


def _sign_in_with_key(client: TestClient, engine: Engine, role: str, opd: str | None = None) -> str:
    key = make_key(engine, role, opd)["Authorization"].removeprefix("Bearer ")
    response = client.post("/dashboard/masuk", data={"kunci": key}, follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"] == "/dashboard"
    return key


def _bot_link(engine: Engine, role: str, opd: str | None = None, *, age: timedelta) -> str:
    """The token of a sign-in link the bot's /dashboard made ``age`` ago for a new admin."""
    with Session(engine) as session:
        admin, _ = add_admin(session, role=role, opd_kode=opd, telegram_id=next(_telegram_ids))
        assert admin.id is not None
        subject = subject_of(ADMIN, admin.id)
        token = dashboard_link(session, SECRET_KEY.encode(), subject=subject, now=utcnow() - age)
        session.commit()
    return token


def _follow_link(client: TestClient, token: str) -> Response:
    """What a person does with the link: open it (which signs nobody in), press the button."""
    page = client.get("/dashboard/masuk", params={"token": token}, follow_redirects=False)
    assert page.status_code == 200 and "set-cookie" not in page.headers
    assert f'name="token" value="{token}"' in page.text
    return client.post("/dashboard/masuk/tautan", data={"token": token}, follow_redirects=False)


def _sign_in_with_link(
    client: TestClient, engine: Engine, role: str, opd: str | None = None
) -> None:
    response = _follow_link(client, _bot_link(engine, role, opd, age=timedelta(0)))
    assert response.status_code == 303 and response.headers["location"] == "/dashboard"


def _text(html: str, testid: str) -> str:
    found = re.search(rf'data-testid="{testid}"[^>]*>([^<]*)<', html)
    assert found, testid
    return " ".join(found.group(1).split())


def _chart(html: str) -> Any:
    found = re.search(r'<script type="application/json" id="data-grafik">(.*?)</script>', html)
    assert found
    return json.loads(found.group(1))


def _ranked_codes(html: str) -> list[str]:
    table = html.split('data-testid="tabel-peringkat"', 1)[1].split("</tbody>", 1)[0]
    return re.findall(r"<abbr title=\"[^\"]*\">([A-Z]+)</abbr>", table)


def _posts_this_month(engine: Engine) -> int:
    month = utcnow().astimezone(WIB).strftime("%Y-%m")
    with Session(engine) as session:
        approved = session.exec(select(Post.approved_at)).all()
    return sum(1 for a in approved if a and a.astimezone(WIB).strftime("%Y-%m") == month)


def test_pages_and_downloads_need_a_session(client: TestClient) -> None:
    for path in ("/dashboard", "/dashboard/unduh.csv", "/dashboard/unduh.xlsx"):
        response = client.get(path, follow_redirects=False)
        assert response.status_code == 303 and response.headers["location"] == "/dashboard/masuk"
    form = client.get("/dashboard/masuk")
    assert form.status_code == 200 and 'name="kunci"' in form.text
    assert '<meta name="viewport"' in form.text
    client.cookies.set(COOKIE, "apikey:1.99999999999.forged", path="/dashboard")
    assert client.get("/dashboard", follow_redirects=False).status_code == 303


def test_sign_in_with_a_key_shows_the_regency(client: TestClient, engine: Engine) -> None:
    seed_november(engine)
    key = _sign_in_with_key(client, engine, "diskominfo")
    cookie = client.cookies.get(COOKIE, path="/dashboard")
    assert cookie and key not in cookie and "apikey" not in cookie

    page = client.get("/dashboard", params=NOVEMBER)
    assert page.status_code == 200
    html = page.text
    assert _text(html, "pengguna") == "Diskominfo"
    assert _text(html, "angka-terdaftar") == "4 / 7"
    assert _text(html, "angka-partisipasi") == "36,4%"
    assert _text(html, "angka-terkirim") == "11"
    assert _text(html, "angka-like-share") == "3 · 2"
    assert _text(html, "angka-postingan") == str(_posts_this_month(engine))
    assert "dilaporkan sendiri" in html and "diukur" in html
    # DINKES 3 of 8 deliveries (37.5 %), DISDIK 1 of 3 (33.3 %): ranked, OPDs only.
    assert _ranked_codes(html) == ["DINKES", "DISDIK"]
    assert "Ahmad" not in html and "Budi" not in html
    chart = _chart(html)
    assert [(r["kode"], round(r["rate"], 3)) for r in chart["peringkat"]] == [
        ("DINKES", 0.375),
        ("DISDIK", 0.333),
    ]
    assert round(chart["total"], 3) == 0.364
    assert chart["corong"] == [7, 4, 4, 3]  # roster, registered, received, took part
    assert len(chart["tren"]["labels"]) == 30
    assert [r for r in chart["tren"]["rates"] if r is not None] == [0.5, 1 / 3, 0.25]
    # The post list: newest first, with sending progress (B had one failure).
    assert html.count("<progress") == 3
    assert "3 terkirim, 1 gagal dari 4" in html
    assert "9 Nov 2026 00.30 WIB" in html

    headers = page.headers
    assert "script-src 'self'" in headers["content-security-policy"]
    assert headers["cache-control"] == "no-store"
    sources = re.findall(r'src="([^"]*)"', html)
    assert sources == ["/dashboard/static/vendor/chart.umd.js", "/dashboard/static/dashboard.js"]


def test_a_filter_narrows_to_one_opd(client: TestClient, engine: Engine) -> None:
    seed_november(engine)
    _sign_in_with_key(client, engine, "diskominfo")
    html = client.get("/dashboard", params=NOVEMBER | {"opd": "DISDIK"}).text
    assert _text(html, "angka-terdaftar") == "1 / 1"
    assert _text(html, "angka-partisipasi") == "33,3%"
    assert 'value="DISDIK" selected' in html
    assert 'data-testid="tabel-peringkat"' not in html  # one OPD is not a ranking
    assert "dari=2026-11-01&amp;sampai=2026-11-30&amp;opd=DISDIK" in html


def test_the_default_window_is_the_last_30_days(client: TestClient, engine: Engine) -> None:
    _sign_in_with_key(client, engine, "diskominfo")
    html = client.get("/dashboard").text
    today = utcnow().astimezone(WIB).date()
    assert f'id="sampai" name="sampai" type="date" value="{today.isoformat()}"' in html
    first = (today - timedelta(days=29)).isoformat()
    assert f'id="dari" name="dari" type="date" value="{first}"' in html


@pytest.mark.parametrize(
    ("params", "status", "message"),
    [
        ({"dari": "2026-13-01"}, 422, "tanggal dari &#39;2026-13-01&#39; tidak dikenali"),
        ({"dari": "2026-11-30", "sampai": "2026-11-01"}, 422, "harus sebelum atau sama"),
        ({"dari": "2020-01-01", "sampai": "2026-01-01"}, 422, "rentang paling panjang 3 tahun"),
        ({"sampai": "1900-01-01"}, 422, "di luar rentang tahun"),
        ({"opd": "TIDAKADA"}, 422, "OPD dengan kode &#39;TIDAKADA&#39; tidak dikenal"),
    ],
)
def test_bad_filters_are_explained_on_the_page(
    client: TestClient, engine: Engine, params: dict[str, str], status: int, message: str
) -> None:
    _sign_in_with_key(client, engine, "diskominfo")
    page = client.get("/dashboard", params=params)
    assert page.status_code == status
    assert message in _text(page.text, "galat")
    download = client.get("/dashboard/unduh.csv", params=params)
    assert download.status_code == status and "detail" in download.json()


def test_a_wrong_key_is_refused(client: TestClient) -> None:
    for key in ("gaung_salah", ""):
        response = client.post("/dashboard/masuk", data={"kunci": key}, follow_redirects=False)
        assert response.status_code == 401
        assert "Kunci API tidak dikenal" in response.text
        assert COOKIE not in response.headers.get("set-cookie", "")


def test_a_bot_link_signs_in_once_and_expires(client: TestClient, engine: Engine) -> None:
    fresh = _bot_link(engine, "diskominfo", age=timedelta(minutes=14))
    for _ in range(3):  # link previews, proxies and a second look spend nothing
        assert client.get("/dashboard/masuk", params={"token": fresh}).status_code == 200
    assert client.get("/dashboard", follow_redirects=False).status_code == 303
    response = _follow_link(client, fresh)
    assert response.status_code == 303 and response.headers["location"] == "/dashboard"
    set_cookie = response.headers["set-cookie"].lower()
    assert (
        "httponly" in set_cookie
        and "samesite=lax" in set_cookie
        and "path=/dashboard" in set_cookie
    )
    cookie = client.cookies.get(COOKIE, path="/dashboard", default="")
    assert cookie and "admin" not in cookie  # names nobody: a random token, looked up
    assert client.get("/dashboard").status_code == 200

    client.cookies.clear()
    again = _follow_link(client, fresh)  # single use, even within its 15 minutes
    assert again.status_code == 401 and "sudah dipakai" in again.text
    assert "set-cookie" not in again.headers
    expired = _bot_link(engine, "diskominfo", age=timedelta(minutes=15))
    refused = _follow_link(client, expired)
    assert refused.status_code == 401 and "kedaluwarsa" in refused.text
    assert "set-cookie" not in refused.headers
    forged = fresh.split(".")[0] + ".AAAA"
    for junk in ("é", "1.2.3", "x" * 200, forged, ""):
        response = client.post("/dashboard/masuk/tautan", data={"token": junk})
        assert response.status_code == 401, junk


def test_an_opd_admin_sees_only_their_opd(client: TestClient, engine: Engine) -> None:
    seed_november(engine)
    _sign_in_with_link(client, engine, "opd", "DISDIK")
    html = client.get("/dashboard", params=NOVEMBER).text
    assert _text(html, "pengguna") == "Admin OPD DISDIK"
    assert _text(html, "angka-terdaftar") == "1 / 1"
    assert _text(html, "angka-terkirim") == "3"
    assert "DINKES" not in html and '<select id="opd"' not in html
    assert _chart(html)["corong"] == [1, 1, 1, 1]
    # Only DISDIK's own post (B) is listed.
    assert html.count("<progress") == 1

    other = client.get("/dashboard", params=NOVEMBER | {"opd": "DINKES"})
    assert other.status_code == 403 and "hanya boleh melihat OPD-nya sendiri" in other.text
    assert client.get("/dashboard/unduh.csv", params={"opd": "DINKES"}).status_code == 403
    rows = list(csv.DictReader(io.StringIO(client.get("/dashboard/unduh.csv").text)))
    assert [r["kode"] for r in rows] == ["DISDIK", "TOTAL"]


def test_downloads_use_the_session_and_the_filters(client: TestClient, engine: Engine) -> None:
    seed_november(engine)
    _sign_in_with_key(client, engine, "diskominfo")
    got: Response = client.get("/dashboard/unduh.csv", params=NOVEMBER)
    assert got.status_code == 200 and got.headers["content-type"].startswith("text/csv")
    assert 'filename="partisipasi-20261101-20261130.csv"' in got.headers["content-disposition"]
    rows = {r["kode"]: r for r in csv.DictReader(io.StringIO(got.text))}
    assert (rows["DINKES"]["delivered"], rows["DINKES"]["participated"]) == ("8", "3")
    assert (rows["TOTAL"]["delivered"], rows["TOTAL"]["participation_rate"]) == ("11", "0.364")

    xlsx = client.get("/dashboard/unduh.xlsx", params=NOVEMBER | {"opd": "DINKES"})
    assert xlsx.status_code == 200
    assert 'filename="partisipasi-20261101-20261130.xlsx"' in xlsx.headers["content-disposition"]
    sheet = load_workbook(io.BytesIO(xlsx.content)).active
    assert sheet is not None
    values = [[c.value for c in row] for row in sheet.iter_rows(min_row=4)]
    assert [v[0] for v in values] == ["DINKES", "TOTAL"] and values[0][5] == 8


def test_revoking_the_key_or_signing_out_ends_the_session(
    client: TestClient, engine: Engine
) -> None:
    _sign_in_with_key(client, engine, "diskominfo")
    assert client.get("/dashboard").status_code == 200
    with Session(engine) as session:
        key_id = session.exec(select(ApiKey.id)).one()
        assert key_id is not None
        revoke_api_key(session, key_id)
        session.commit()
    assert client.get("/dashboard", follow_redirects=False).status_code == 303

    _sign_in_with_link(client, engine, "diskominfo")
    out = client.post("/dashboard/keluar", follow_redirects=False)
    assert out.status_code == 303 and out.headers["location"] == "/dashboard/masuk"
    assert f'{COOKIE}=""' in out.headers["set-cookie"] and "Max-Age=0" in out.headers["set-cookie"]
    assert client.get("/dashboard", follow_redirects=False).status_code == 303


def test_a_deactivated_admin_is_signed_out(client: TestClient, engine: Engine) -> None:
    _sign_in_with_link(client, engine, "diskominfo")
    with Session(engine) as session:
        admin = session.exec(select(Admin)).one()
        admin.active = False
        session.add(admin)
        session.commit()
    assert client.get("/dashboard", follow_redirects=False).status_code == 303


def test_posts_approved_now_count_this_month(client: TestClient, engine: Engine) -> None:
    with Session(engine) as session:
        add_asn(session, opd="DINKES")
        post = submit_post(session, opd_kode="DINKES", url="https://youtu.be/baru")
        assert post.id is not None
        approve_post(session, post.id)
        session.commit()
    _sign_in_with_key(client, engine, "diskominfo")
    assert _text(client.get("/dashboard").text, "angka-postingan") == "1"


def test_chart_library_is_served_from_the_package(client: TestClient) -> None:
    script = client.get("/dashboard/static/vendor/chart.umd.js")
    assert script.status_code == 200 and "javascript" in script.headers["content-type"]
    assert b"Chart.js v4." in script.content[:200]
    assert client.get("/dashboard/static/vendor/chart.js.LICENSE.md").status_code == 200
    assert client.get("/dashboard/static/dashboard.css").status_code == 200
    assert client.get("/dashboard/static/..%2Froutes%2Fdashboard.py").status_code == 404
