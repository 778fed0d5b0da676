"""The day rollup (``opd_day_stat``) always equals the per post × OPD counters summed per OPD and
UTC approval day, and the participation sums read through it equal the facts, whatever moved the
numbers and wherever a window cuts a day (issue 11)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from alembic.script import ScriptDirectory
from sqlalchemy import Engine, select, text
from sqlmodel import Session

from db.accounts.identities import opt_out
from db.accounts.personal import erase_asn
from db.accounts.retention import purge_expired
from db.delivery.confirmations import Tap, record_taps
from db.delivery.counters import FIELDS, day_counts, fact_counts, rebuild
from db.delivery.opens import open_code, open_key, record_open
from db.delivery.outbox import mark_failed
from db.migrate import alembic_config, current_revision, downgrade, head_revision, upgrade
from db.models import ChatIdentity, Opd, OpdDayStat, table
from db.posts.lifecycle import cancel_post
from db.reporting.participation import counter_sums, participation, whole_days
from db.reporting.window import Window
from tests.db.reporting.test_participation import (
    START,
    build_regency,
    sent_to_all,
    submitted_and_approved,
)
from tests.factories import delivery_of

Row = tuple[int, ...]

# Day 0 is the UTC day of START (1 November 00:00 WIB is 31 October 17:00 UTC).
DAY0 = datetime(2026, 10, 31, tzinfo=UTC)
WINDOWS = [
    Window(DAY0 - timedelta(days=365), DAY0 + timedelta(days=30)),  # a year, cut at midnight
    Window(START.astimezone(UTC), START.astimezone(UTC) + timedelta(days=30)),  # a WIB month
    Window(DAY0 + timedelta(days=2, hours=5), DAY0 + timedelta(days=4, hours=23, minutes=31)),
    Window(DAY0 + timedelta(days=2, hours=1), DAY0 + timedelta(days=2, hours=20)),  # in one day
    Window(DAY0 + timedelta(days=3), DAY0 + timedelta(days=4, hours=23)),  # edge on one side
]


def _nonzero(rows: object) -> dict[Row, Row]:
    """(key…) → counts, without all-zero rows (a rebuild drops what a bump leaves at zero)."""
    found: dict[Row, Row] = {}
    for row in rows:  # type: ignore[attr-defined]
        *key, delivered, liked, shared, participated, opened = row
        counts = (int(delivered), int(liked), int(shared), int(participated), int(opened))
        if any(counts):
            found[tuple(key)] = counts
    return found


def assert_rollup_holds(session: Session) -> None:
    """The rollup equals its recomputation from the counters, and per OPD, for every window,
    the sums the report reads equal the counts straight from deliveries and confirmations."""
    session.flush()
    conn = session.connection()
    day = table(OpdDayStat)
    kept = _nonzero(conn.execute(select(day.c.day, day.c.opd_id, *list(day.c)[2:])))
    assert kept == _nonzero(conn.execute(day_counts(session.get_bind().dialect.name)))
    for window in WINDOWS:
        facts = _nonzero(conn.execute(fact_counts(["opd_id"], window)))
        assert _nonzero(conn.execute(counter_sums(window))) == facts, window
        # The report's own statement (built once, its bounds bound per request) agrees.
        ids = {kode: i for kode, i in conn.execute(select(table(Opd).c.kode, table(Opd).c.id))}
        reported = [
            (ids[r.kode], *(getattr(r.counts, f) for f in FIELDS))
            for r in participation(session, window).rows
        ]
        assert _nonzero(reported) == facts, window


def _tap(session: Session, post_id: int, who: object, kind: str) -> Tap:
    delivery = delivery_of(session, post_id, who)  # type: ignore[arg-type]
    identity = session.get(ChatIdentity, delivery.identity_id)
    assert identity is not None and delivery.id is not None
    return Tap(delivery.id, kind, identity.external_id)


def test_rollup_equals_the_counters_after_every_kind_of_change(session: Session) -> None:
    p = build_regency(session)
    # Two posts on one UTC day (one of them only to OPD B), one just before a UTC midnight
    # (already the next day in WIB), one a day later.
    first, _ = submitted_and_approved(
        session, "A", "https://instagram.com/p/r1", now=DAY0 + timedelta(days=2, hours=3)
    )
    only_b, _ = submitted_and_approved(
        session,
        "B",
        "https://x.com/b/status/r2",
        targets=["B"],
        now=DAY0 + timedelta(days=2, hours=9),
    )
    late, _ = submitted_and_approved(
        session, "A", "https://tiktok.com/@a/r3", now=DAY0 + timedelta(days=3, hours=23, minutes=30)
    )
    next_day, _ = submitted_and_approved(
        session, "C", "https://facebook.com/c/posts/r4", now=DAY0 + timedelta(days=4, hours=22)
    )
    posts = [first.id, only_b.id, late.id, next_day.id]
    assert all(posts)
    for post_id in (first.id, late.id, next_day.id):
        assert post_id
        sent_to_all(session, post_id, p)
    from db.delivery.outbox import mark_sent

    for who in ("b1", "b2"):
        assert only_b.id
        mark_sent(session, delivery_of(session, only_b.id, p[who]), "m")
    assert_rollup_holds(session)

    # One batch of taps over several posts, days and OPD, with repeats.
    taps = [
        _tap(session, first.id or 0, p["a1"], "like"),
        _tap(session, first.id or 0, p["a1"], "share"),
        _tap(session, only_b.id or 0, p["b1"], "share"),
        _tap(session, late.id or 0, p["a2"], "like"),
        _tap(session, late.id or 0, p["a2"], "like"),
        _tap(session, next_day.id or 0, p["b2"], "share"),
    ]
    record_taps(session, "telegram", taps)
    assert_rollup_holds(session)

    # Tracked opens, then a late failure of an opened, confirmed delivery (WhatsApp 131047).
    key = open_key(session)
    for post_id, who in ((first.id, "a1"), (late.id, "a2"), (late.id, "b1")):
        delivery = delivery_of(session, post_id or 0, p[who])
        assert delivery.id
        record_open(session, open_code(key, delivery.id))
    mark_failed(session, delivery_of(session, late.id or 0, p["a2"]), "131047 later")
    assert_rollup_holds(session)

    # /berhenti, /hapus and the retention purge change who is linked, never the counts.
    opt_out(session, p["a1"])
    erase_asn(session, p["b1"])
    p["b2"].active = False
    p["b2"].left_at = DAY0 - timedelta(days=800)
    session.add(p["b2"])
    purged = purge_expired(session, months=12, now=DAY0 + timedelta(days=10))
    assert purged.deliveries > 0
    assert_rollup_holds(session)

    # A withdrawn post: nothing more is sent, taps on it refused, what counted stays.
    cancel_post(session, next_day.id or 0)
    record_taps(session, "telegram", [_tap(session, next_day.id or 0, p["a2"], "like")])
    assert_rollup_holds(session)

    report = participation(session, WINDOWS[0])
    assert report.total.delivered == 3 * 4 + 2 - 1  # three posts to four, one to two, a failure

    rebuild(session)  # recomputed from the facts: the same rollup
    assert_rollup_holds(session)


def test_whole_days_are_the_utc_days_inside_the_window() -> None:
    day = datetime(2026, 11, 3, tzinfo=UTC)
    assert whole_days(Window(day, day + timedelta(days=2))) == (
        day.date(),
        (day + timedelta(2)).date(),
    )
    assert whole_days(Window(day + timedelta(seconds=1), day + timedelta(days=2))) == (
        (day + timedelta(1)).date(),
        (day + timedelta(2)).date(),
    )
    assert whole_days(Window(day + timedelta(hours=1), day + timedelta(hours=30))) is None


def test_migration_backfills_the_rollup_from_the_counters(engine: Engine) -> None:
    scripts = ScriptDirectory.from_config(alembic_config(engine))
    [mine] = [
        r for r in scripts.walk_revisions() if (r.doc or "").startswith("participation rollup")
    ]
    assert isinstance(mine.down_revision, str)  # re-chained at merge: ask, don't assume
    downgrade(engine, mine.down_revision)
    at = "2026-11-01 23:30:00"  # 2 November in WIB, 1 November in UTC: the rollup's day
    with engine.begin() as conn:
        conn.execute(
            text("INSERT INTO opd (kode, nama, created_at) VALUES ('X', 'X', :t), ('Y', 'Y', :t)"),
            {"t": at},
        )
        for status, approved in (
            ("sent", at),
            ("sent", "2026-11-02 01:00:00"),
            ("submitted", None),
        ):
            conn.execute(
                text(
                    "INSERT INTO post (opd_id, url, platform, status, target_all, submitted_at, "
                    "approved_at) SELECT min(id), 'https://example.org/p', 'web', :s, true, :t, :a "
                    "FROM opd"
                ),
                {"s": status, "t": at, "a": approved},
            )
        conn.execute(
            text(
                "INSERT INTO post_opd_stat (post_id, opd_id, delivered, liked, shared, "
                "participated, opened) SELECT post.id, opd.id, 5, 2, 1, 2, 1 FROM post, opd"
            )
        )
    upgrade(engine)
    assert current_revision(engine) == head_revision()
    with engine.connect() as conn:
        rows = conn.execute(
            text("SELECT day, delivered, liked, opened FROM opd_day_stat ORDER BY day, opd_id")
        ).all()
        recomputed = _nonzero(conn.execute(day_counts(engine.dialect.name)))
    days = [str(r[0]) for r in rows]
    assert days == ["2026-11-01", "2026-11-01", "2026-11-02", "2026-11-02"]
    assert [tuple(r[1:]) for r in rows] == [(5, 2, 1)] * 4  # the unapproved post is in none
    with engine.connect() as conn:
        day = table(OpdDayStat)
        assert (
            _nonzero(conn.execute(select(day.c.day, day.c.opd_id, *list(day.c)[2:]))) == recomputed
        )
