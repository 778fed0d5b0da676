"""Neutrality guards from the command line: ordinary posts approve as before (the operator's
confirmation recorded); a guard refuses in one line unless --netral; the allow-list commands."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from sqlalchemy import Engine
from sqlmodel import Session, select
from typer.testing import CliRunner

from api.cli import app, cli_approver
from db.models import AuditLog, Post, PostApproval, PostStatus
from db.types import utcnow
from tests.api.conftest import ok
from tests.api.test_cli_sources import add_source


def refused(runner: CliRunner, *args: str) -> str:
    result = runner.invoke(app, list(args))
    assert result.exit_code == 1, (result.output, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, lines
    return lines[0]


def test_an_ordinary_post_approves_and_records_the_operator(
    gaung: CliRunner,
    engine: Engine,
) -> None:
    ok(gaung, "opd", "import")
    post_id = ok(gaung, "post", "add", "--opd", "DINKES", "--url", "https://x.com/a/status/1")
    result = gaung.invoke(app, ["post", "approve", post_id.strip()])
    assert result.exit_code == 0 and "disetujui" in result.stdout
    assert f"Dicatat atas nama {cli_approver()}: Unggahan ini tidak memuat calon" in result.stderr
    with Session(engine) as session:
        approval = session.exec(select(PostApproval)).one()
        assert approval.approver == cli_approver() and approval.approver.startswith("cli:")
        actions = session.exec(select(AuditLog.action).where(AuditLog.actor == cli_approver()))
        assert list(actions) == ["post.neutral", "post.approve"]


def test_a_guard_refuses_without_netral_and_the_flag_approves(
    gaung: CliRunner,
    engine: Engine,
) -> None:
    ok(gaung, "opd", "import")
    ok(
        gaung,
        "account",
        "add",
        "--platform",
        "instagram",
        "--handle",
        "@dinkesmjk",
        "--opd",
        "DINKES",
    )
    listed = json.loads(ok(gaung, "account", "list", "--json"))
    assert [(a["opd"], a["platform"], a["handle"]) for a in listed] == [
        ("DINKES", "instagram", "dinkesmjk")
    ]
    args = ["post", "add", "--opd", "DINKES", "--url", "https://instagram.com/p/k1"]
    result = gaung.invoke(app, [*args, "--caption", "Sukseskan pilkada", "--approve"])
    assert result.exit_code == 1
    post_id = result.stdout.strip()  # submitted all the same: Diskominfo can review it in chat
    assert post_id.isdigit()
    (line,) = result.stderr.strip().splitlines()
    assert line == (
        f"gaung: postingan #{post_id} tidak disetujui: memuat kata terkait politik/kampanye: "
        "pilkada; akun tidak dapat dipastikan dari tautan instagram; periksa unggahannya lalu "
        "ulangi dengan --netral"
    )
    assert refused(gaung, "post", "approve", post_id).startswith(
        f"gaung: postingan #{post_id} tidak disetujui"
    )
    with Session(engine) as session:
        post = session.get(Post, int(post_id))
        assert post is not None and post.status == PostStatus.SUBMITTED
        assert session.exec(select(PostApproval)).all() == []
    done = json.loads(ok(gaung, "post", "approve", post_id, "--netral", "--json"))
    assert done["status"] == "approved" and [w["kind"] for w in done["warnings"]] == [
        "keyword",
        "account_unknown",
    ]
    ok(gaung, "account", "remove", str(listed[0]["id"]))
    assert json.loads(ok(gaung, "account", "list", "--json")) == []


def test_in_a_campaign_period_the_cli_needs_netral_and_is_one_approver(
    gaung: CliRunner,
    engine: Engine,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("GAUNG_CAMPAIGN_START", (utcnow() - timedelta(days=2)).date().isoformat())
    monkeypatch.setenv("GAUNG_CAMPAIGN_END", (utcnow() + timedelta(days=2)).date().isoformat())
    ok(gaung, "opd", "import")
    post_id = ok(gaung, "post", "add", "--opd", "DINKES", "--url", "https://x.com/a/status/2")
    post_id = post_id.strip()
    line = refused(gaung, "post", "approve", post_id)
    assert "masa kampanye: perlu dua penyetuju berbeda" in line
    first = ok(gaung, "post", "approve", post_id, "--netral")
    assert "menunggu persetujuan kedua" in first
    again = refused(gaung, "post", "approve", post_id, "--netral")
    assert "persetujuan kedua dari admin Diskominfo lain" in again
    with Session(engine) as session:
        post = session.get(Post, int(post_id))
        assert post is not None and post.status == PostStatus.SUBMITTED
        assert len(session.exec(select(PostApproval)).all()) == 1


def test_seed_takes_accounts_from_registered_sources(gaung: CliRunner) -> None:
    ok(gaung, "opd", "import")
    assert add_source(gaung, "DINKES", "https://dinkes.mojokertokab.go.id/feed/")[0] == 0
    assert json.loads(ok(gaung, "account", "seed", "--json"))[0]["handle"] == (
        "dinkes.mojokertokab.go.id"
    )
    assert json.loads(ok(gaung, "account", "seed", "--json")) == []
    bad = refused(gaung, "account", "add", "--platform", "myspace", "--handle", "x")
    assert bad.startswith("gaung: platform 'myspace' tidak dikenal")
