"""WhatsApp's billed cost in the reports, beside the estimate, labelled as Meta's billing data.

A post sent on WhatsApp to four ASN as templates: Meta's statuses say three were billable
(marketing), one failed (not billed). The participation report, the post's detail and the
dashboard's post list show the templates, the estimate and what Meta billed, on SQLite and
PostgreSQL, through the real app.
"""

from __future__ import annotations

import re

from fastapi.testclient import TestClient
from sqlalchemy import Engine, update
from sqlmodel import Session, select

from db.delivery.outbox import mark_sent
from db.delivery.whatsapp import StatusUpdate, apply_statuses
from db.models import ChatIdentity, Delivery, table
from db.posts.lifecycle import approve_post, submit_post
from db.types import utcnow
from tests.api.conftest import make_key
from tests.factories import add_asn, register

PRICE = 0.0411  # the default marketing price (settings)


def seed(engine: Engine) -> int:
    with Session(engine) as session:
        add_asn(session, opd="DISDIK")  # another OPD, on no channel
        for n in range(4):
            asn = add_asn(session, opd="DINKES", phone=f"08129990{n:04d}")
            register(session, asn, channel="whatsapp", external_id=f"628129990{n:04d}")
        session.connection().execute(update(table(ChatIdentity)).values(last_inbound_at=None))
        post = submit_post(session, opd_kode="DINKES", url="https://instagram.com/p/biaya")
        assert post.id is not None
        approve_post(session, post.id)
        rows = list(session.exec(select(Delivery).where(Delivery.post_id == post.id)))
        for row in rows:
            row.template_at = utcnow()
            mark_sent(session, row, f"wamid.{row.id}")
        updates = [StatusUpdate(r.id or 0, "delivered", billable=True, category="marketing")
                   for r in rows[:3]]  # fmt: skip
        updates.append(StatusUpdate(rows[3].id or 0, "failed", error_code=131026, error="x"))
        apply_statuses(session, updates)
        session.commit()
        return post.id


def test_reports_show_the_billed_cost_beside_the_estimate(
    client: TestClient, engine: Engine
) -> None:
    post_id = seed(engine)
    key = make_key(engine, "diskominfo")

    report = client.get("/api/v1/participation", headers=key).json()
    wa = report["whatsapp"]
    assert wa["template_messages"] == 3  # the failed one is not counted as sent
    assert wa["estimated_cost"] == round(3 * PRICE, 4)
    assert wa["billed_messages"] == 3 and wa["billed_by_category"] == {"marketing": 3}
    assert wa["billed_cost"] == round(3 * PRICE, 4)
    assert "Meta" in wa["billed_source"] and "pricing" in wa["billed_source"]

    other = make_key(engine, "opd", "DISDIK")  # another OPD's scope: nothing of DINKES
    own = client.get("/api/v1/participation", headers=other).json()["whatsapp"]
    assert own["template_messages"] == 0 and own["billed_messages"] == 0

    detail = client.get(f"/api/v1/posts/{post_id}", headers=key).json()["whatsapp"]
    assert detail["billed_messages"] == 3 and detail["billed_cost"] == round(3 * PRICE, 4)
    assert "Meta" in detail["billed_source"]

    signed = client.post(
        "/dashboard/masuk", data={"kunci": key["Authorization"].removeprefix("Bearer ")}
    )
    assert signed.status_code == 200
    page = client.get("/dashboard").text
    cell = re.search(r'data-testid="postingan-biaya-wa"[^>]*>(.*?)</td>', page, re.S)
    assert cell, "no WhatsApp cost column"
    text = " ".join(re.sub(r"<[^>]+>", " ", cell.group(1)).split())
    assert text == "USD 0.12 · USD 0.12 3 templat · 3 ditagih", text
    assert "ditagih Meta" in page
