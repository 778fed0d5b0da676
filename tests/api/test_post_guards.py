"""Neutrality guards over HTTP: the tick is required, the detail shows the warnings and who
approved, and in a campaign period a second, different key queues the post."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlmodel import Session, select

from api.app import create_app
from db.models import AuditLog, Delivery
from db.posts.official import add_account
from db.types import utcnow
from tests.api.conftest import SAME_ORIGIN, app_settings, make_key
from tests.factories import add_asn, register


def _seed(engine: Engine) -> None:
    with Session(engine) as session:
        register(session, add_asn(session, opd="DINKES"))
        add_account(session, platform="instagram", handle="dinkesmjk", opd_kode="DINKES")
        session.commit()


def _submit(client: TestClient, headers: dict[str, str], url: str, caption: str) -> int:
    made = client.post(
        "/api/v1/posts", json={"url": url, "caption": caption, "opd": "DINKES"}, headers=headers
    )
    assert made.status_code == 201, made.text
    return int(made.json()["id"])


def test_approval_needs_the_tick_and_the_detail_shows_warnings_and_approvals(
    client: TestClient, engine: Engine
) -> None:
    _seed(engine)
    admin = make_key(engine, "diskominfo")
    post = _submit(client, admin, "https://www.instagram.com/p/C0x/", "Ayo ke TPS, pilkada damai")
    detail = client.get(f"/api/v1/posts/{post}", headers=admin).json()
    assert detail["guards"] == {
        "warnings": [
            {
                "kind": "keyword",
                "detail": "pilkada",
                "message": "memuat kata terkait politik/kampanye: pilkada",
            },
            {
                "kind": "account_unknown",
                "detail": "instagram",
                "message": "akun tidak dapat dipastikan dari tautan instagram",
            },
        ],
        "approvals": [],
        "approvals_needed": 1,
        "waiting": None,
    }
    for body in (None, {}, {"neutral": False}):
        refused = client.post(f"/api/v1/posts/{post}/approve", json=body, headers=admin)
        assert refused.status_code == 422
        assert refused.json() == {
            "detail": "persetujuan memerlukan konfirmasi netralitas: unggahan tidak memuat "
            'calon, partai, atau kampanye (kirim "neutral": true)'
        }
    with Session(engine) as session:
        assert session.exec(select(Delivery)).all() == []
    approved = client.post(f"/api/v1/posts/{post}/approve", json={"neutral": True}, headers=admin)
    assert approved.status_code == 200
    body = approved.json()
    assert (body["status"], body["queued"], body["approvals"], body["waiting"]) == (
        "approved",
        1,
        1,
        None,
    )
    assert [w["kind"] for w in body["warnings"]] == ["keyword", "account_unknown"]
    (approval,) = client.get(f"/api/v1/posts/{post}", headers=admin).json()["guards"]["approvals"]
    assert approval["approver"].startswith("apikey:") and approval["approved_at"].endswith("+07:00")
    assert approval["warnings"] == [w["message"] for w in body["warnings"]]
    with Session(engine) as session:
        audit = session.exec(select(AuditLog).where(AuditLog.action == "post.neutral")).one()
        assert audit.actor == approval["approver"]


def test_a_listed_account_gets_no_warning(client: TestClient, engine: Engine) -> None:
    _seed(engine)
    admin = make_key(engine, "diskominfo")
    post = _submit(client, admin, "https://instagram.com/dinkesmjk/p/1", "Posyandu")
    assert client.get(f"/api/v1/posts/{post}", headers=admin).json()["guards"]["warnings"] == []


@pytest.fixture
def campaign_client(database_url: str) -> Iterator[TestClient]:
    today = (utcnow() + timedelta(days=2)).date().isoformat()
    settings = app_settings(
        database_url,
        campaign_start=(utcnow() - timedelta(days=2)).date().isoformat(),
        campaign_end=today,
    )
    with TestClient(create_app(settings), headers=SAME_ORIGIN) as client:
        yield client


def test_in_a_campaign_period_a_second_different_key_queues_it(
    campaign_client: TestClient, engine: Engine
) -> None:
    client = campaign_client
    _seed(engine)
    first_key, second_key = make_key(engine, "diskominfo"), make_key(engine, "diskominfo")
    post = _submit(client, first_key, "https://instagram.com/dinkesmjk/p/2", "Posyandu")
    approve = f"/api/v1/posts/{post}/approve"
    first = client.post(approve, json={"neutral": True}, headers=first_key)
    assert first.status_code == 202
    assert first.json()["status"] == "submitted" and first.json()["queued"] == 0
    assert first.json()["waiting"] == "menunggu persetujuan kedua"
    assert (first.json()["approvals"], first.json()["approvals_needed"]) == (1, 2)
    waiting = client.get(f"/api/v1/posts/{post}", headers=first_key).json()
    assert waiting["status"] == "submitted"
    assert waiting["guards"]["waiting"] == "menunggu persetujuan kedua"
    again = client.post(approve, json={"neutral": True}, headers=first_key)
    assert again.status_code == 409
    assert "persetujuan kedua dari admin Diskominfo lain" in again.json()["detail"]
    second = client.post(approve, json={"neutral": True}, headers=second_key)
    assert second.status_code == 200
    assert (second.json()["status"], second.json()["queued"]) == ("approved", 1)
    guards = client.get(f"/api/v1/posts/{post}", headers=first_key).json()["guards"]
    assert len({a["approver"] for a in guards["approvals"]}) == 2
    assert guards["approvals_needed"] == 2 and guards["waiting"] is None
