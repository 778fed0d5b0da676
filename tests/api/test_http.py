from __future__ import annotations

import gc
import io
from datetime import UTC, datetime

from fastapi.testclient import TestClient
from openpyxl import load_workbook
from sqlalchemy import Engine
from sqlmodel import Session, select

from api.app import create_app
from db.accounts.apikeys import revoke_api_key
from db.delivery.confirmations import confirm
from db.delivery.outbox import finish_posts, mark_failed, mark_sent
from db.models import ApiKey
from db.posts.lifecycle import approve_post, submit_post
from tests.api.conftest import app_settings, make_key
from tests.factories import add_asn, delivery_of, register

NOV = datetime(2026, 11, 10, 3, 0, tzinfo=UTC)

# A post delivered to both of its two ASN, nothing failed or waiting.
TWO_SENT = {"total": 2, "sent": 2, "failed": 0, "pending": 0, "deferred": 0, "failures": {}}


def seed(engine: Engine) -> dict[str, int]:
    """DINKES: 2 ASN registered, both receive post 1; one likes. DISDIK: 1 ASN, not registered."""
    with Session(engine) as session:
        a, b = add_asn(session, opd="DINKES"), add_asn(session, opd="DINKES")
        add_asn(session, opd="DISDIK")
        register(session, a)
        register(session, b)
        post = submit_post(session, opd_kode="DINKES", url="https://instagram.com/p/1")
        assert post.id
        approve_post(session, post.id, now=NOV)
        for who in (a, b):
            mark_sent(session, delivery_of(session, post.id, who), "1")
        confirm(session, delivery_of(session, post.id, a), "like")
        finish_posts(session, {post.id}, now=NOV)
        session.commit()
        return {"post": post.id}


def test_healthz(client: TestClient) -> None:
    response = client.get("/healthz")
    assert response.status_code == 200 and response.json()["database"] == "ok"


def test_keys_are_required_and_revocation_is_immediate(client: TestClient, engine: Engine) -> None:
    assert client.get("/api/v1/participation").status_code == 401
    bad = client.get("/api/v1/participation", headers={"Authorization": "Bearer gaung_nope"})
    assert bad.status_code == 401 and "detail" in bad.json()
    headers = make_key(engine, "diskominfo")
    assert client.get("/api/v1/participation", headers=headers).status_code == 200
    with Session(engine) as session:
        key = session.exec(select(ApiKey)).one()
        assert key.last_used_at is not None
        assert key.id
        revoke_api_key(session, key.id)
        session.commit()
    assert client.get("/api/v1/participation", headers=headers).status_code == 401


def test_participation_json_csv_xlsx(client: TestClient, engine: Engine) -> None:
    seed(engine)
    headers = make_key(engine, "diskominfo")
    params = {"start": "2026-11-01", "end": "2026-12-01"}
    body = client.get("/api/v1/participation", params=params, headers=headers).json()
    assert body["start"] == "2026-11-01T00:00:00+07:00"
    rows = {r["kode"]: r for r in body["opd"]}
    assert rows["DINKES"]["delivered"] == 2 and rows["DINKES"]["participation_rate"] == 0.5
    assert rows["DISDIK"]["asn_registered"] == 0
    assert body["total"]["asn_roster"] == 3 and body["total"]["liked"] == 1

    csv = client.get("/api/v1/participation.csv", params=params, headers=headers)
    assert csv.status_code == 200 and csv.headers["content-type"].startswith("text/csv")
    assert "partisipasi-20261101-20261201.csv" in csv.headers["content-disposition"]
    lines = csv.text.splitlines()
    assert lines[0].startswith("kode,nama,asn_roster") and lines[-1].startswith("TOTAL,")

    xlsx = client.get("/api/v1/participation.xlsx", params=params, headers=headers)
    sheet = load_workbook(io.BytesIO(xlsx.content)).active
    assert sheet is not None and sheet.freeze_panes == "A4"
    values = [[c.value for c in row] for row in sheet.iter_rows(min_row=4)]
    dinkes = next(v for v in values if v[0] == "DINKES")
    assert dinkes[5] == 2 and dinkes[9] == 0.5


def test_opd_keys_see_only_their_own_opd(client: TestClient, engine: Engine) -> None:
    seed(engine)
    headers = make_key(engine, "opd", "DINKES")
    own = client.get("/api/v1/participation", headers=headers).json()
    assert [r["kode"] for r in own["opd"]] == ["DINKES"]
    other = client.get("/api/v1/participation", params={"opd": "DISDIK"}, headers=headers)
    assert other.status_code == 403 and "detail" in other.json()
    assert (
        client.get(
            "/api/v1/participation.csv", params={"opd": "DISDIK"}, headers=headers
        ).status_code
        == 403
    )


def test_participation_by_status(client: TestClient, engine: Engine) -> None:
    with Session(engine) as session:
        for status in ("PNS", "PPPK", "PPPK"):
            asn = add_asn(session, opd="DINKES")
            asn.status = status
            session.add(asn)
        session.commit()
    headers = make_key(engine, "diskominfo")
    totals = {
        status: client.get(
            "/api/v1/participation", params={"status": status}, headers=headers
        ).json()["total"]["asn_roster"]
        for status in ("pppk", "PNS", "")
    }
    assert totals == {"pppk": 2, "PNS": 1, "": 3}


def test_bad_windows_and_unknown_opd_are_422(client: TestClient, engine: Engine) -> None:
    headers = make_key(engine, "diskominfo")
    for params in (
        {"start": "2026-12-01", "end": "2026-11-01"},
        {"start": "kemarin"},
        {"end": "2026-13-45"},
        {"opd": "TIDAKADA"},
        {"status": "honorer"},
    ):
        response = client.get("/api/v1/participation", params=params, headers=headers)
        assert response.status_code == 422, params
        assert isinstance(response.json()["detail"], str)


def test_posts_lifecycle_over_http(client: TestClient, engine: Engine) -> None:
    ids = seed(engine)
    opd_key = make_key(engine, "opd", "DINKES")
    admin = make_key(engine, "diskominfo")
    created = client.post(
        "/api/v1/posts", json={"url": "https://youtu.be/abc", "caption": "Hi"}, headers=opd_key
    )
    assert created.status_code == 201, created.text
    post = created.json()
    assert (post["opd"], post["platform"], post["status"]) == ("DINKES", "youtube", "submitted")
    assert (
        client.post(
            "/api/v1/posts", json={"url": "https://youtu.be/x", "opd": "DISDIK"}, headers=opd_key
        ).status_code
        == 403
    )
    assert (
        client.post(
            "/api/v1/posts", json={"url": "javascript:alert(1)"}, headers=opd_key
        ).status_code
        == 422
    )
    assert (
        client.post(
            "/api/v1/posts", json={"url": "https://youtu.be/abc"}, headers=opd_key
        ).status_code
        == 409
    )
    assert client.post(f"/api/v1/posts/{post['id']}/approve", headers=opd_key).status_code == 403
    approve = f"/api/v1/posts/{post['id']}/approve"
    untick = client.post(approve, json={"targets": ["DINKES"]}, headers=admin)
    assert untick.status_code == 422 and "konfirmasi netralitas" in untick.json()["detail"]
    approved = client.post(approve, json={"targets": ["DINKES"], "neutral": True}, headers=admin)
    assert approved.status_code == 200 and approved.json()["queued"] == 2
    assert client.post(approve, json={"neutral": True}, headers=admin).status_code == 409

    listing = client.get("/api/v1/posts", params={"status": "approved"}, headers=admin).json()
    assert [p["id"] for p in listing["items"]] == [post["id"]] and listing["total"] == 1
    assert (
        client.get("/api/v1/posts", params={"status": "nonsense"}, headers=admin).status_code == 422
    )

    detail = client.get(f"/api/v1/posts/{ids['post']}", headers=opd_key).json()
    assert detail["progress"] == TWO_SENT
    assert detail["participation"]["total"]["participated"] == 1
    assert client.get("/api/v1/posts/999999", headers=admin).status_code == 404

    rejected = client.post(
        "/api/v1/posts", json={"url": "https://x.com/a/status/1", "opd": "DISDIK"}, headers=admin
    ).json()
    assert (
        client.post(
            f"/api/v1/posts/{rejected['id']}/reject", json={"reason": ""}, headers=admin
        ).status_code
        == 422
    )
    done = client.post(
        f"/api/v1/posts/{rejected['id']}/reject", json={"reason": "Bukan resmi"}, headers=admin
    ).json()
    assert (done["status"], done["reason"]) == ("rejected", "Bukan resmi")
    assert client.get(f"/api/v1/posts/{rejected['id']}", headers=opd_key).status_code == 403
    cancelled = client.post(f"/api/v1/posts/{post['id']}/cancel", headers=admin).json()
    assert cancelled["status"] == "cancelled"
    waiting = client.post(
        "/api/v1/posts", json={"url": "https://x.com/a/status/2", "opd": "DISDIK"}, headers=admin
    ).json()
    refused = client.post(f"/api/v1/posts/{waiting['id']}/cancel", headers=admin)
    assert refused.status_code == 409 and "tolak" in refused.json()["detail"]


def test_openapi_docs_are_served(client: TestClient) -> None:
    assert client.get("/docs").status_code == 200
    spec = client.get("/openapi.json").json()
    assert "/api/v1/participation" in spec["paths"]


def test_an_opd_key_sees_only_its_own_opd_in_a_post(client: TestClient, engine: Engine) -> None:
    """A DINKES post sent to DINKES and DISDIK: the DINKES key's rows, total and progress
    count DINKES people only; Diskominfo's count both."""
    with Session(engine) as session:
        dinkes = [add_asn(session, opd="DINKES") for _ in range(2)]
        disdik = [add_asn(session, opd="DISDIK") for _ in range(3)]
        for asn in dinkes + disdik:
            register(session, asn)
        post = submit_post(session, opd_kode="DINKES", url="https://instagram.com/p/2")
        assert post.id
        approve_post(session, post.id, now=NOV)
        for asn in dinkes + disdik[:2]:
            mark_sent(session, delivery_of(session, post.id, asn), "1")
        mark_failed(session, delivery_of(session, post.id, disdik[2]), "blocked")
        confirm(session, delivery_of(session, post.id, dinkes[0]), "like")
        for asn in disdik[:2]:
            confirm(session, delivery_of(session, post.id, asn), "share")
        session.commit()
        post_id = post.id

    own = client.get(f"/api/v1/posts/{post_id}", headers=make_key(engine, "opd", "DINKES"))
    assert own.status_code == 200, own.text
    body = own.json()
    assert [r["kode"] for r in body["participation"]["opd"]] == ["DINKES"]
    total = body["participation"]["total"]
    assert (total["asn_roster"], total["delivered"], total["participated"]) == (2, 2, 1)
    assert body["progress"] == TWO_SENT

    every = client.get(f"/api/v1/posts/{post_id}", headers=make_key(engine, "diskominfo")).json()
    assert [r["kode"] for r in every["participation"]["opd"]] == ["DINKES", "DISDIK"]
    total = every["participation"]["total"]
    assert (total["asn_roster"], total["delivered"], total["participated"]) == (5, 4, 3)
    assert (every["progress"]["total"], every["progress"]["failed"]) == (5, 1)
    assert every["progress"]["failures"] == {"blocked": 1}

    other = client.get(f"/api/v1/posts/{post_id}", headers=make_key(engine, "opd", "DISDIK"))
    assert other.status_code == 403


def test_only_the_long_lived_app_freezes_what_start_up_built(database_url: str) -> None:
    """``gaung serve`` settles its heap once; an app among many in one process leaves the
    collector alone (the suite builds hundreds, and each full collection walked all of it)."""
    with TestClient(create_app(app_settings(database_url))):
        assert gc.get_freeze_count() == 0
    with TestClient(create_app(app_settings(database_url), long_lived=True)) as served:
        assert gc.get_freeze_count() > 0
        assert served.get("/healthz").status_code == 200
    assert gc.get_freeze_count() == 0
