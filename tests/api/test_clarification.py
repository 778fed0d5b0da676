"""Marking a clarification through the API (Diskominfo keys only) and ``gaung post clarify``;
the mark shows in the post's JSON."""

from __future__ import annotations

import json

from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlmodel import Session
from typer.testing import CliRunner

from api.cli import app
from db.posts.lifecycle import approve_post, submit_post
from tests.api.conftest import make_key
from tests.factories import add_asn, register


def post(engine: Engine, *, approve: bool = True, slug: str = "k") -> int:
    with Session(engine) as session:
        register(session, add_asn(session, opd="DINKES"))
        made = submit_post(session, opd_kode="DINKES", url=f"https://instagram.com/p/{slug}")
        assert made.id is not None
        if approve:
            approve_post(session, made.id)
        session.commit()
        return made.id


def test_api_marks_an_approved_post_and_shows_it(client: TestClient, engine: Engine) -> None:
    post_id = post(engine)
    draft = post(engine, approve=False, slug="draft")
    diskominfo = make_key(engine, "diskominfo")
    opd = make_key(engine, "opd", "DINKES")
    assert client.post(f"/api/v1/posts/{post_id}/clarification", headers=opd).status_code == 403
    before = client.get(f"/api/v1/posts/{post_id}", headers=opd).json()
    assert before["clarification_at"] is None
    marked = client.post(f"/api/v1/posts/{post_id}/clarification", headers=diskominfo)
    assert marked.status_code == 200
    when = marked.json()["clarification_at"]
    assert when is not None and when.endswith("+07:00")
    again = client.post(f"/api/v1/posts/{post_id}/clarification", headers=diskominfo)
    assert again.status_code == 200 and again.json()["clarification_at"] == when
    refused = client.post(f"/api/v1/posts/{draft}/clarification", headers=diskominfo)
    assert refused.status_code == 409 and "klarifikasi" in refused.json()["detail"]
    missing = client.post("/api/v1/posts/999999/clarification", headers=diskominfo)
    assert missing.status_code == 404 and "detail" in missing.json()
    detail = client.get(f"/api/v1/posts/{post_id}", headers=opd).json()
    assert detail["clarification_at"] == when
    listed = client.get("/api/v1/posts", headers=diskominfo).json()["items"]
    assert {p["id"]: p["clarification_at"] for p in listed} == {post_id: when, draft: None}


def test_cli_marks_a_clarification(gaung: CliRunner, engine: Engine) -> None:
    post_id = post(engine)
    first = gaung.invoke(app, ["post", "clarify", str(post_id)])
    assert first.exit_code == 0 and "ditandai sebagai klarifikasi" in first.stdout
    again = gaung.invoke(app, ["post", "clarify", str(post_id), "--json"])
    assert again.exit_code == 0
    assert json.loads(again.stdout) == {
        "id": post_id,
        "status": "approved",
        "clarification": True,
        "new": False,
    }
    draft = post(engine, approve=False, slug="draft")
    refused = gaung.invoke(app, ["post", "clarify", str(draft)])
    assert refused.exit_code == 1 and "klarifikasi" in refused.stderr
