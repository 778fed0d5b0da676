from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlmodel import Session, select

from api.schemas import ParticipationReport
from db.accounts.identities import mark_unreachable, opt_out
from db.delivery.confirmations import confirm
from db.delivery.outbox import mark_failed, mark_sent
from db.errors import Invalid
from db.models import Asn, Channel, Delivery, Post
from db.posts.lifecycle import approve_post, submit_post
from db.reporting.participation import COUNT_FIELDS, Participation, participation
from db.reporting.window import Window
from tests.factories import add_asn, delivery_of, register

WIB = ZoneInfo("Asia/Jakarta")
START = datetime(2026, 11, 1, tzinfo=WIB)
END = datetime(2026, 12, 1, tzinfo=WIB)
WINDOW = Window(START.astimezone(UTC), END.astimezone(UTC))


def as_json(report: Participation) -> dict[str, Any]:
    """The API's JSON of a report: the contract's shape, checked against the domain's numbers."""
    return ParticipationReport.of(report, WIB).model_dump()


def build_regency(session: Session) -> dict[str, Asn]:
    """Three OPD with every registration state the definitions distinguish."""
    names = ("a1", "a2", "a3", "b1", "b2", "b3", "c1", "c2")  # the letter names the OPD
    people = {name: add_asn(session, opd=name[0].upper()) for name in names}
    register(session, people["a1"])
    register(session, people["a2"])
    register(session, people["a2"], channel=Channel.WHATSAPP)  # two channels, one person
    register(session, people["b1"])
    register(session, people["b2"], channel=Channel.WHATSAPP)
    mark_unreachable(session, register(session, people["b3"]), "Forbidden: bot was blocked")
    register(session, people["c1"])
    opt_out(session, people["c1"])
    register(session, people["c2"])
    people["c2"].active = False
    session.add(people["c2"])
    session.commit()
    return people


def submitted_and_approved(
    session: Session, opd: str, url: str, **approval: Any
) -> tuple[Post, int]:
    """A post ``opd`` submits, approved at once (``approval``: approve_post's options)."""
    return approve_post(session, submit_post(session, opd_kode=opd, url=url).id or 0, **approval)


def sent_to_all(session: Session, post_id: int, people: dict[str, Asn]) -> None:
    """The channel took the post for each of the four ASN it went to (a1 a2 b1 b2)."""
    for who in ("a1", "a2", "b1", "b2"):
        mark_sent(session, delivery_of(session, post_id, people[who]), "m")


def test_participation_matches_numbers_computed_by_hand(session: Session) -> None:
    p = build_regency(session)
    inside = START + timedelta(days=3)
    post1, queued1 = submitted_and_approved(session, "A", "https://instagram.com/p/1", now=inside)
    post2, queued2 = submitted_and_approved(
        session, "B", "https://x.com/b/status/2", targets=["B"], now=inside + timedelta(days=1)
    )
    post0, _ = submitted_and_approved(  # just outside the window
        session, "A", "https://youtu.be/old", now=START - timedelta(seconds=1)
    )
    assert (queued1, queued2) == (4, 2)  # a1 a2 b1 b2; b1 b2
    assert post1.id and post2.id and post0.id
    for who in ("a1", "a2", "b1"):
        mark_sent(session, delivery_of(session, post1.id, p[who]), "m")
    mark_failed(session, delivery_of(session, post1.id, p["b2"]), "131047")
    for who in ("b1", "b2"):
        mark_sent(session, delivery_of(session, post2.id, p[who]), "m")
    mark_sent(session, delivery_of(session, post0.id, p["a1"]), "m")

    assert confirm(session, delivery_of(session, post1.id, p["a1"]), "like")
    assert confirm(session, delivery_of(session, post1.id, p["a1"]), "share")
    assert not confirm(session, delivery_of(session, post1.id, p["a1"]), "like")  # repeat tap
    assert confirm(session, delivery_of(session, post1.id, p["a2"]), "share")
    assert confirm(session, delivery_of(session, post1.id, p["b1"]), "like")
    assert confirm(session, delivery_of(session, post1.id, p["b2"]), "like")  # failed: not counted
    assert confirm(session, delivery_of(session, post2.id, p["b2"]), "like")
    assert confirm(session, delivery_of(session, post0.id, p["a1"]), "like")  # outside window
    session.commit()

    report = as_json(participation(session, WINDOW))
    assert report["start"] == "2026-11-01T00:00:00+07:00"
    assert report["end"] == "2026-12-01T00:00:00+07:00"
    rows = {r["kode"]: r for r in report["opd"]}
    assert rows["A"] == {
        "kode": "A",
        "nama": "OPD A",
        "asn_roster": 3,
        "asn_registered": 2,
        "registration_rate": 0.667,
        "delivered": 2,
        "liked": 1,
        "shared": 2,
        "participated": 2,
        "participation_rate": 1.0,
        "opened": 0,
        "shared_with_evidence": 0,
    }
    assert rows["B"] | {"nama": ""} == {
        "kode": "B",
        "nama": "",
        "asn_roster": 3,
        "asn_registered": 2,
        "registration_rate": 0.667,
        "delivered": 3,
        "liked": 2,
        "shared": 0,
        "participated": 2,
        "participation_rate": 0.667,
        "opened": 0,
        "shared_with_evidence": 0,
    }
    assert rows["C"] | {"nama": ""} == {
        "kode": "C",
        "nama": "",
        "asn_roster": 1,
        "asn_registered": 0,
        "registration_rate": 0.0,
        "delivered": 0,
        "liked": 0,
        "shared": 0,
        "participated": 0,
        "participation_rate": 0.0,
        "opened": 0,
        "shared_with_evidence": 0,
    }
    assert report["total"] == {
        "asn_roster": 7,
        "asn_registered": 4,
        "registration_rate": 0.571,
        "delivered": 5,
        "liked": 3,
        "shared": 2,
        "participated": 4,
        "participation_rate": 0.8,
        "opened": 0,
        "shared_with_evidence": 0,
    }

    only_b = as_json(participation(session, WINDOW, opd_ids=[p["b1"].opd_id]))
    assert [r["kode"] for r in only_b["opd"]] == ["B"]
    assert only_b["opd"][0] == rows["B"]  # narrowed in SQL, same numbers
    assert only_b["total"] == {k: v for k, v in rows["B"].items() if k not in ("kode", "nama")}

    one_post = as_json(participation(session, WINDOW, post_id=post2.id))
    assert one_post["total"] | {} == {
        "asn_roster": 7,
        "asn_registered": 4,
        "registration_rate": 0.571,
        "delivered": 2,
        "liked": 1,
        "shared": 0,
        "participated": 1,
        "participation_rate": 0.5,
        "opened": 0,
        "shared_with_evidence": 0,
    }


def test_empty_regency_gives_zero_rates_not_errors(session: Session) -> None:
    report = as_json(participation(session, WINDOW))
    assert report["opd"] == []
    assert report["total"]["participation_rate"] == 0.0
    assert report["total"]["registration_rate"] == 0.0


def test_deliveries_are_unique_per_post_and_asn(session: Session) -> None:
    """Approving twice is refused, so nobody can be queued twice for one post."""
    import pytest

    from db.errors import Conflict

    asn = add_asn(session, opd="A")
    register(session, asn)
    post = submit_post(session, opd_kode="A", url="https://facebook.com/x/posts/1")
    assert post.id
    approve_post(session, post.id)
    with pytest.raises(Conflict):
        approve_post(session, post.id)
    assert len(session.exec(select(Delivery)).all()) == 1


def _stat_rows(session: Session) -> list[tuple[int, int, int, int, int, int]]:
    from db.models import PostOpdStat

    return sorted(
        (s.post_id, s.opd_id, s.delivered, s.liked, s.shared, s.participated)
        for s in session.exec(select(PostOpdStat))
    )


def test_counters_equal_the_facts_after_every_kind_of_change(session: Session) -> None:
    """The running counters match a rebuild and the plain join, including a late failure."""
    from db.delivery.counters import rebuild
    from db.reporting.participation import plain_delivery_counts

    p = build_regency(session)
    inside = START + timedelta(days=2)
    post, _ = submitted_and_approved(session, "A", "https://tiktok.com/@a/1", now=inside)
    assert post.id
    sent_to_all(session, post.id, p)
    confirm(session, delivery_of(session, post.id, p["a1"]), "like")
    confirm(session, delivery_of(session, post.id, p["a1"]), "share")
    confirm(session, delivery_of(session, post.id, p["b2"]), "share")
    confirm(session, delivery_of(session, post.id, p["b2"]), "share")  # repeat: no change
    mark_failed(session, delivery_of(session, post.id, p["b2"]), "131047 later")  # WhatsApp
    session.commit()

    kept = _stat_rows(session)
    rebuild(session)
    session.commit()
    assert _stat_rows(session) == [r for r in kept if r[2:] != (0, 0, 0, 0)]
    plain = {
        row[0]: tuple(int(v) for v in row[1:5])  # delivered, liked, shared, participated
        for row in session.connection().execute(plain_delivery_counts(WINDOW))
    }
    report = participation(session, WINDOW)
    counted = {
        r.kode: (r.counts.delivered, r.counts.liked, r.counts.shared, r.counts.participated)
        for r in report.rows
    }
    assert counted["A"] == plain[p["a1"].opd_id] == (2, 1, 1, 1)
    assert counted["B"] == plain[p["b1"].opd_id] == (1, 0, 0, 0)


def test_participation_splits_by_pns_and_pppk(session: Session) -> None:
    """a1 and b1 are PPPK, a2 and b2 PNS, the rest unknown; the split follows the roster."""
    p = build_regency(session)
    for who, status in (("a1", "PPPK"), ("b1", "PPPK"), ("a2", "PNS"), ("b2", "PNS")):
        p[who].status = status
        session.add(p[who])
    post, _ = submitted_and_approved(
        session, "A", "https://instagram.com/p/s", now=START + timedelta(days=2)
    )
    assert post.id
    sent_to_all(session, post.id, p)
    confirm(session, delivery_of(session, post.id, p["a1"]), "like")
    confirm(session, delivery_of(session, post.id, p["b1"]), "share")
    confirm(session, delivery_of(session, post.id, p["a2"]), "share")
    session.commit()

    def numbers(status: str | None) -> dict[str, tuple[int, ...]]:
        report = participation(session, WINDOW, status=status)
        return {
            r.kode: tuple(
                getattr(r.counts, f)
                for f in COUNT_FIELDS
                if f not in ("opened", "shared_with_evidence")
            )
            for r in [*report.rows, type(report.rows[0])("TOTAL", "", report.total)]
        }

    assert numbers("pppk") == {
        "A": (1, 1, 1, 1, 0, 1),
        "B": (1, 1, 1, 0, 1, 1),
        "C": (0, 0, 0, 0, 0, 0),
        "TOTAL": (2, 2, 2, 1, 1, 2),
    }
    assert numbers("PNS")["TOTAL"] == (2, 2, 2, 0, 1, 1)
    assert numbers(None)["TOTAL"] == (7, 4, 4, 1, 2, 3)
    a_only = participation(session, WINDOW, status="PNS", opd_ids=[p["a2"].opd_id])
    assert [(r.kode, r.counts.delivered) for r in a_only.rows] == [("A", 1)]
    with pytest.raises(Invalid, match="PNS atau PPPK"):
        participation(session, WINDOW, status="honorer")


def test_report_reads_evidence_and_billing_from_their_few_rows_on_sqlite(
    session: Session, database_url: str
) -> None:
    """Issue 11: on SQLite (which has no statistics: Gaung never runs ANALYZE) the share
    evidence and WhatsApp billing of a report once walked every delivery of the window, a
    month's report taking seconds on a seeded year. Each delivery read must now be a lookup by
    primary key from the evidence, template or billable index, never a walk of deliveries by
    post, OPD or status."""
    from sqlalchemy import event

    from api.whatsapp_cost import participation_billing
    from db.settings import Settings

    bind = session.get_bind()
    if bind.dialect.name != "sqlite":
        pytest.skip("SQLite's planner without statistics; PostgreSQL plans by its own")
    build_regency(session)
    statements: list[tuple[str, Any]] = []

    def keep(_c: Any, _cur: Any, statement: str, params: Any, _ctx: Any, _many: bool) -> None:
        if not statement.startswith(("BEGIN", "EXPLAIN")):
            statements.append((statement, params))

    event.listen(bind, "before_cursor_execute", keep)
    try:
        report = participation(session, WINDOW)
        settings = Settings(database_url=database_url, secret_key="k" * 40)
        participation_billing(session, report, settings)
    finally:
        event.remove(bind, "before_cursor_execute", keep)
    conn = session.connection()
    read = [s for s in statements if "FROM delivery" in s[0] or "JOIN delivery" in s[0]]
    assert len(read) == 3  # evidence, templates, billed
    for statement, params in read:
        plan = [row[-1] for row in conn.exec_driver_sql("EXPLAIN QUERY PLAN " + statement, params)]
        on_delivery = [step for step in plan if " delivery " in f"{step} "]
        assert on_delivery, plan
        assert all(
            "PRIMARY KEY" in step
            or "ix_delivery_template_at" in step
            or "ix_delivery_billable" in step
            for step in on_delivery
        ), plan
