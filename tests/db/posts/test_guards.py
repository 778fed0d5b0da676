"""Neutrality guards at approval: the tick, keyword and account warnings, the campaign period's
second approver, and what is recorded (both databases)."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlmodel import Session, select

from db.errors import Conflict, Invalid
from db.models import AuditLog, Delivery, Platform, Post, PostApproval, PostStatus
from db.posts.guards import GuardRules, approvals_of, approve, post_warnings
from db.posts.lifecycle import submit_post
from db.posts.official import (
    LinkAccount,
    account_of,
    add_account,
    is_listed,
    list_accounts,
    remove_account,
    seed_from_sources,
)
from db.posts.sources import FeedEntry, PollResult, add_source, record_poll
from db.roster.opd import ensure_opd
from db.settings import SettingsError, load_settings
from db.types import utcnow
from tests.factories import add_asn, register

NOV10 = datetime(2026, 11, 10, 3, 0, tzinfo=UTC)  # 10:00 WIB
CAMPAIGN = GuardRules(campaign_start=date(2026, 11, 1), campaign_end=date(2026, 11, 10))


def _post(session: Session, url: str, caption: str | None = None) -> Post:
    ensure_opd(session, "DINKES", "Dinas Kesehatan")
    return submit_post(session, opd_kode="DINKES", url=url, caption=caption)


@pytest.mark.parametrize(
    ("url", "account"),
    [
        ("https://www.instagram.com/dinkes.mojokerto/p/C0abc/", ("instagram", "dinkes.mojokerto")),
        ("https://www.instagram.com/p/C0abc/", ("instagram", None)),
        ("https://instagram.com/reel/C0abc", ("instagram", None)),
        ("https://instagram.com/stories/Pemkab_Mjk/123", ("instagram", "pemkab_mjk")),
        ("https://www.tiktok.com/@DinkesMjk/video/1", ("tiktok", "dinkesmjk")),
        ("https://vm.tiktok.com/ZSabc/", ("tiktok", None)),
        ("https://x.com/pemkabmjk/status/1", ("x", "pemkabmjk")),
        ("https://t.co/abc", ("x", None)),
        ("https://www.youtube.com/@pemkabmojokerto", ("youtube", "pemkabmojokerto")),
        ("https://www.youtube.com/channel/UCx1y2z3", ("youtube", "ucx1y2z3")),
        ("https://youtu.be/abc", ("youtube", None)),
        ("https://www.youtube.com/watch?v=abc", ("youtube", None)),
        ("https://www.facebook.com/pemkabmojokerto/posts/1", ("facebook", "pemkabmojokerto")),
        ("https://www.facebook.com/profile.php?id=1000", ("facebook", "1000")),
        ("https://www.facebook.com/watch?v=1", ("facebook", None)),
        ("https://fb.watch/abc/", ("facebook", None)),
        ("https://www.dinkes.mojokertokab.go.id/berita/1", ("web", "dinkes.mojokertokab.go.id")),
    ],
)
def test_the_account_is_read_from_the_link_or_said_to_be_unknown(
    url: str, account: tuple[str, str | None]
) -> None:
    found = account_of(url)
    assert (found.platform.value, found.handle) == account


def test_keywords_match_whole_words_in_caption_and_link_case_insensitively() -> None:
    rules = GuardRules(keywords=("pilkada", "nomor urut", "PAN", "Calon Bupati X"))
    assert rules.keyword_hits("Ayo sukseskan PILKADA damai") == ["pilkada"]
    assert rules.keyword_hits("https://berita.id/pilih-nomor-urut-2") == ["nomor urut"]
    assert rules.keyword_hits("Panen raya di Pacet; pilkadanya") == []  # inside longer words
    assert rules.keyword_hits("Bersama calon  bupati x", "dukung pan") == ["PAN", "Calon Bupati X"]
    assert GuardRules().keyword_hits("Mari coblos paslon nomor urut 1") == [
        "coblos",
        "paslon",
        "nomor urut",
    ]
    assert GuardRules().keyword_hits("Posyandu serentak; panen padi; PBB lunas") == []


def test_warnings_name_keywords_and_accounts_off_the_list_or_unknown(session: Session) -> None:
    ensure_opd(session, "DINKES", "Dinas Kesehatan")
    early = _post(session, "https://instagram.com/someone/p/0")
    assert post_warnings(session, early, GuardRules()) == []  # no allow-list: no account check
    add_account(session, platform="instagram", handle="@DinkesMjk", opd_kode="DINKES")
    add_account(session, platform="web", handle="https://www.mojokertokab.go.id/", opd_kode=None)
    listed = _post(session, "https://instagram.com/dinkesmjk/p/1", "Posyandu serentak")
    other = _post(session, "https://instagram.com/relawan.paslon/p/2", "Coblos nomor urut 2")
    unknown = _post(session, "https://www.instagram.com/p/Cabc/")
    sub = _post(session, "https://dinkes.mojokertokab.go.id/pemilu-damai")
    rules = GuardRules()
    assert post_warnings(session, listed, rules) == []
    assert [w.message for w in post_warnings(session, other, rules)] == [
        "memuat kata terkait politik/kampanye: coblos, paslon, nomor urut",
        "akun instagram @relawan.paslon tidak ada di daftar akun resmi",
    ]
    assert [w.as_dict() for w in post_warnings(session, unknown, rules)] == [
        {
            "kind": "account_unknown",
            "detail": "instagram",
            "message": "akun tidak dapat dipastikan dari tautan instagram",
        }
    ]
    assert [(w.kind, w.detail) for w in post_warnings(session, sub, rules)] == [
        ("keyword", "pemilu")
    ]
    assert is_listed(session, LinkAccount(Platform.WEB, "mojokertokab.go.id"))
    assert not is_listed(session, LinkAccount(Platform.WEB, "fakemojokertokab.go.id"))
    assert [(a.opd, a.platform, a.handle) for a in list_accounts(session)] == [
        ("DINKES", "instagram", "dinkesmjk"),
        (None, "web", "mojokertokab.go.id"),
    ]
    with pytest.raises(Conflict):
        add_account(session, platform="Instagram", handle="dinkesmjk", opd_kode="DINKES")
    with pytest.raises(Invalid):
        add_account(session, platform="myspace", handle="x", opd_kode=None)
    removed = remove_account(session, list_accounts(session)[0].id)
    assert removed.handle == "dinkesmjk"
    assert [w.kind for w in post_warnings(session, listed, rules)] == ["account_off_list"]


def test_sources_seed_the_list_and_their_items_count_as_official(session: Session) -> None:
    ensure_opd(session, "DINKES", "Dinas Kesehatan")
    web = add_source(session, opd_kode="DINKES", url="https://dinkes.mojokertokab.go.id/feed/")
    add_source(session, opd_kode="DINKES", url="https://www.youtube.com/channel/UCx1y2z3")
    added = seed_from_sources(session)
    assert sorted((a.platform, a.handle) for a in added) == [
        ("web", "dinkes.mojokertokab.go.id"),
        ("youtube", "ucx1y2z3"),
    ]
    assert seed_from_sources(session) == []  # again: nothing new
    entry = FeedEntry(
        key="a", url="https://youtu.be/xyz", title="Kampanye imunisasi", published=utcnow()
    )
    outcome = record_poll(
        session, web.id or 0, PollResult(entries=[entry]), interval=timedelta(minutes=30)
    )
    (post,) = outcome.posts
    # From a registered source: official though the link names no account; the title warns.
    assert [(w.kind, w.detail) for w in post_warnings(session, post, GuardRules())] == [
        ("keyword", "kampanye")
    ]


def test_approval_needs_the_tick_and_records_who_and_when(session: Session) -> None:
    register(session, add_asn(session, opd="DINKES"))
    post = _post(session, "https://instagram.com/p/x", "Coblos")
    with pytest.raises(Invalid, match="konfirmasi netralitas"):
        approve(session, post.id or 0, approver="apikey:1", neutral=False, rules=GuardRules())
    assert session.exec(select(PostApproval)).all() == []
    done = approve(
        session, post.id or 0, approver="apikey:1", neutral=True, rules=GuardRules(), now=NOV10
    )
    assert (done.queued, done.approvals, done.needed, done.waiting) == (1, 1, 1, False)
    assert post.status == PostStatus.APPROVED
    (row,) = approvals_of(session, post.id or 0)
    assert (row.approver, row.approved_at) == ("apikey:1", NOV10)
    assert row.warnings == ["memuat kata terkait politik/kampanye: coblos"]  # no allow-list yet
    audit = session.exec(select(AuditLog).where(AuditLog.action == "post.neutral")).one()
    details = json.loads(audit.details or "{}")
    assert audit.actor == "apikey:1" and audit.target == f"post:{post.id}"
    assert details["statement"].startswith("Unggahan ini tidak memuat calon, partai politik")
    assert details["warnings"] == row.warnings and (details["approval"], details["needed"]) == (
        1,
        1,
    )
    with pytest.raises(Conflict):
        approve(session, post.id or 0, approver="apikey:2", neutral=True, rules=GuardRules())


def test_in_a_campaign_period_a_second_different_approver_queues_it(session: Session) -> None:
    register(session, add_asn(session, opd="DINKES"))
    post = _post(session, "https://instagram.com/p/x")
    first = approve(
        session, post.id or 0, approver="admin:1", neutral=True, rules=CAMPAIGN, now=NOV10
    )
    assert (first.waiting, first.approvals, first.needed) == (True, 1, 2)
    assert post.status == PostStatus.SUBMITTED and session.exec(select(Delivery)).all() == []
    with pytest.raises(Conflict, match="persetujuan kedua dari admin Diskominfo lain"):
        approve(session, post.id or 0, approver="admin:1", neutral=True, rules=CAMPAIGN, now=NOV10)
    second = approve(
        session, post.id or 0, approver="apikey:3", neutral=True, rules=CAMPAIGN, now=NOV10
    )
    assert (second.waiting, second.queued, second.approvals) == (False, 1, 2)
    assert post.status == PostStatus.APPROVED
    assert [a.approver for a in approvals_of(session, post.id or 0)] == ["admin:1", "apikey:3"]
    audit = session.exec(select(AuditLog.actor, AuditLog.action).order_by(AuditLog.id)).all()
    assert [a for a in audit if a[1] != "post.submit"][-3:] == [
        ("admin:1", "post.neutral"),
        ("apikey:3", "post.neutral"),
        ("apikey:3", "post.approve"),
    ]


def test_the_campaign_period_is_inclusive_wib_dates() -> None:
    assert CAMPAIGN.in_campaign(datetime(2026, 11, 10, 16, 59, tzinfo=UTC))  # 23:59 WIB
    assert not CAMPAIGN.in_campaign(datetime(2026, 11, 10, 17, 0, tzinfo=UTC))  # 11 Nov WIB
    assert CAMPAIGN.in_campaign(datetime(2026, 10, 31, 17, 0, tzinfo=UTC))  # 1 Nov 00:00 WIB
    assert not GuardRules().in_campaign(NOV10)


def test_settings_build_the_rules_and_refuse_half_a_campaign_period() -> None:
    rules = GuardRules.of(
        load_settings(
            guard_keywords="pilkada, coblos,,",
            guard_extra_keywords="Budi Calon, coblos",
            campaign_start="2026-11-01",
            campaign_end="2026-11-10",
        )
    )
    assert rules.keywords == ("pilkada", "coblos", "Budi Calon")
    assert rules.keyword_hits("Bersama BUDI CALON") == ["Budi Calon"]
    assert rules.needed(NOV10) == 2 and GuardRules.of(load_settings()).needed(NOV10) == 1
    with pytest.raises(SettingsError, match="GAUNG_CAMPAIGN_START and GAUNG_CAMPAIGN_END"):
        load_settings(campaign_end="2026-11-10")
    with pytest.raises(SettingsError, match="before"):
        load_settings(campaign_start="2026-11-10", campaign_end="2026-11-01")
