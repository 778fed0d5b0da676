"""Shares with a repost link are counted as ``shared_with_evidence`` (self-reported) in the
participation API, its CSV and XLSX, a post's detail and the dashboard; a clarification is
marked on the dashboard's post list."""

from __future__ import annotations

import csv
import io
import re

from fastapi.testclient import TestClient
from openpyxl import load_workbook
from sqlalchemy import Engine
from sqlmodel import Session

from db.delivery.confirmations import Tap, record_taps
from db.delivery.evidence import attach_evidence
from db.delivery.outbox import mark_failed, mark_sent
from db.models import Delivery
from db.posts.clarification import mark_clarification
from db.posts.lifecycle import approve_post, submit_post
from db.types import utcnow
from tests.api.conftest import make_key
from tests.factories import add_asn, delivery_of, register


def world(engine: Engine) -> tuple[int, list[int]]:
    """DINKES: three ASN sent one post; two shared, one of them sent a repost link. DISPORA:
    one ASN shared with a link."""
    with Session(engine) as session:
        people = [add_asn(session, opd="DINKES") for _ in range(3)]
        other = add_asn(session, opd="DISPORA")
        for n, asn in enumerate([*people, other]):
            register(session, asn, external_id=str(700 + n))
        post = submit_post(session, opd_kode="DINKES", url="https://instagram.com/p/lapor")
        assert post.id is not None
        approve_post(session, post.id)
        mark_clarification(session, post.id)
        ids = []
        for asn in [*people, other]:
            delivery = delivery_of(session, post.id, asn)
            mark_sent(session, delivery, "m")
            assert delivery.id is not None
            ids.append(delivery.id)
        taps = [Tap(ids[0], "share", "700"), Tap(ids[1], "share", "701")]
        taps += [Tap(ids[2], "like", "702"), Tap(ids[3], "share", "703")]
        record_taps(session, "telegram", taps)
        for delivery_id, user in ((ids[0], "700"), (ids[3], "703")):
            attach_evidence(
                session,
                channel="telegram",
                external_id=user,
                delivery_id=delivery_id,
                url=f"https://www.facebook.com/share/{user}",
                now=utcnow(),
            )
        session.commit()
        return post.id, ids


def test_shares_with_evidence_in_api_exports_and_dashboard(
    client: TestClient, engine: Engine
) -> None:
    post_id, _ = world(engine)
    headers = make_key(engine, "diskominfo")
    body = client.get("/api/v1/participation", headers=headers).json()
    rows = {r["kode"]: r for r in body["opd"]}
    assert (rows["DINKES"]["shared"], rows["DINKES"]["shared_with_evidence"]) == (2, 1)
    assert (rows["DISPORA"]["shared"], rows["DISPORA"]["shared_with_evidence"]) == (1, 1)
    assert body["total"]["shared_with_evidence"] == 2
    assert body["labels"]["shared_with_evidence"] == "dikonfirmasi sendiri"

    text = client.get("/api/v1/participation.csv", headers=headers).text
    by_kode = {r["kode"]: r for r in csv.DictReader(io.StringIO(text))}
    assert (
        by_kode["DINKES"]["shared_with_evidence"],
        by_kode["TOTAL"]["shared_with_evidence"],
    ) == (
        "1",
        "2",
    )
    xlsx = client.get("/api/v1/participation.xlsx", headers=headers)
    sheet = load_workbook(io.BytesIO(xlsx.content)).active
    assert sheet is not None
    table = [[c.value for c in row] for row in sheet.iter_rows(min_row=3)]
    column = table[0].index("Share dengan tautan bukti (dikonfirmasi sendiri)")
    assert next(r for r in table if r[0] == "DINKES")[column] == 1

    detail = client.get(f"/api/v1/posts/{post_id}", headers=headers).json()
    assert detail["participation"]["total"]["shared_with_evidence"] == 2
    assert detail["clarification_at"] is not None

    key = headers["Authorization"].removeprefix("Bearer ")
    client.post("/dashboard/masuk", data={"kunci": key}, follow_redirects=False)
    html = client.get("/dashboard").text
    found = re.search(r'data-testid="angka-bukti"[^>]*>([^<]*)<', html)
    assert found and found.group(1).strip() == "2"
    assert "(1 dgn bukti)" in html
    assert 'data-testid="klarifikasi"' in html


def test_evidence_on_a_delivery_that_later_failed_is_not_counted(
    client: TestClient, engine: Engine
) -> None:
    post_id, ids = world(engine)
    with Session(engine) as session:
        failed = session.get(Delivery, ids[3])  # WhatsApp reported it failed after all
        assert failed is not None
        mark_failed(session, failed, "131026: tidak terkirim")
        session.commit()
    headers = make_key(engine, "diskominfo")
    body = client.get("/api/v1/participation", headers=headers).json()
    rows = {r["kode"]: r for r in body["opd"]}
    assert rows["DISPORA"]["shared_with_evidence"] == 0
    assert body["total"]["shared_with_evidence"] == 1
    detail = client.get(f"/api/v1/posts/{post_id}", headers=headers).json()
    assert detail["participation"]["total"]["shared_with_evidence"] == 1
