from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from openpyxl import load_workbook
from sqlalchemy import Engine
from sqlmodel import Session, col, select
from typer.testing import CliRunner

from api.cli import app
from db.accounts.apikeys import authenticate, hash_key
from db.models import Admin, AdminIdentity, ApiKey, AuditLog, Delivery, Post
from tests.api.conftest import ok
from tests.factories import register

A = "198503122010011004"
B = "199001012015032001"


def roster(tmp_path: Path) -> Path:
    path = tmp_path / "roster.csv"
    path.write_text(
        "nip,nama,opd_kode,opd_nama,jabatan,telepon\n"
        f"{A},Budi Santoso,DINKES,Dinas Kesehatan,Perawat,0812-3456-7890\n"
        f"{B},Sri Wahyuni,DISKOMINFO,Dinas Komunikasi dan Informatika,,+62 813 1111 2222\n"
        "12345,Salah,DINKES,,,\n",
        encoding="utf-8",
    )
    return path


def test_help_runs_as_a_console_script() -> None:
    gaung = Path(sys.executable).parent / "gaung"
    result = subprocess.run([str(gaung), "--help"], capture_output=True, text=True, check=False)
    assert result.returncode == 0
    for command in ("db", "roster", "admin", "apikey", "post", "report", "demo"):
        assert command in result.stdout


def test_db_upgrade_reports_the_revision(gaung: CliRunner) -> None:
    assert json.loads(ok(gaung, "db", "upgrade", "--json"))["revision"]


def test_roster_import_prints_a_summary_and_json(gaung: CliRunner, tmp_path: Path) -> None:
    out = ok(gaung, "roster", "import", str(roster(tmp_path)))
    assert "ditambah: 2" in out and "ditolak: 1" in out
    assert "baris 4: NIP harus 18 digit" in out
    data = json.loads(ok(gaung, "roster", "import", str(roster(tmp_path)), "--json"))
    assert (data["added"], data["unchanged"], len(data["rejected"])) == (0, 2, 1)
    assert data["rejected"][0]["line"] == 4


def test_roster_import_of_a_missing_file_fails_with_one_line(gaung: CliRunner) -> None:
    result = gaung.invoke(app, ["roster", "import", "tidak-ada.csv"])
    assert result.exit_code == 1
    assert result.stderr.strip().count("\n") == 0
    assert "tidak ditemukan" in result.stderr


def test_admin_and_apikey(gaung: CliRunner, tmp_path: Path, engine: Engine) -> None:
    ok(gaung, "roster", "import", str(roster(tmp_path)))
    assert (
        json.loads(
            ok(gaung, "admin", "add", "--role", "diskominfo", "--telegram-id", "42", "--json")
        )["created"]
        is True
    )
    ok(gaung, "admin", "add", "--role", "opd", "--opd", "dinkes", "--phone", "0812 9999 0000")
    result = gaung.invoke(app, ["admin", "add", "--role", "opd", "--telegram-id", "7"])
    assert result.exit_code == 1 and "--opd" in result.stderr
    result = gaung.invoke(
        app, ["admin", "add", "--role", "opd", "--opd", "NOPE", "--phone", "081299990001"]
    )
    assert result.exit_code == 1 and "NOPE" in result.stderr

    key = ok(
        gaung, "apikey", "create", "--role", "opd", "--opd", "DINKES", "--name", "admin dinkes"
    ).strip()
    assert key.startswith("gaung_") and len(key) > 40
    with Session(engine) as session:
        accounts = session.exec(
            select(Admin.role, AdminIdentity.channel, AdminIdentity.external_id).join(
                AdminIdentity, col(AdminIdentity.admin_id) == col(Admin.id)
            )
        ).all()
        assert sorted(accounts) == [
            ("diskominfo", "telegram", "42"),
            ("opd", "whatsapp", "6281299990000"),
        ]
        stored = session.exec(select(ApiKey)).one()
        assert stored.key_hash == hash_key(key) and key not in (stored.prefix, stored.key_hash)
        principal = authenticate(session, key)
        assert principal is not None and principal.role == "opd"
        assert authenticate(session, key + "x") is None
        actions = [a.action for a in session.exec(select(AuditLog))]
        assert {"admin.add", "apikey.create", "roster.import"} <= set(actions)


def test_post_add_approve_and_report(gaung: CliRunner, tmp_path: Path, engine: Engine) -> None:
    ok(gaung, "roster", "import", str(roster(tmp_path)))
    with Session(engine) as session:
        from db.models import Asn

        for asn in session.exec(select(Asn)).all():
            register(session, asn)
        session.commit()
    post_id = ok(
        gaung,
        "post",
        "add",
        "--opd",
        "DINKES",
        "--url",
        "https://www.instagram.com/p/abc/",
        "--caption",
        "Posyandu",
    ).strip()
    assert post_id.isdigit()
    out = ok(gaung, "post", "approve", post_id)
    assert "2 pesan" in out
    again = gaung.invoke(app, ["post", "approve", post_id])
    assert again.exit_code == 1 and "approved" in again.stderr
    second = json.loads(
        ok(
            gaung,
            "post",
            "add",
            "--opd",
            "DISKOMINFO",
            "--url",
            "https://youtu.be/xyz",
            "--approve",
            "--json",
        )
    )
    dup = gaung.invoke(app, ["post", "add", "--opd", "DINKES", "--url", "https://youtu.be/xyz"])
    assert dup.exit_code == 1 and f"#{second['id']}" in dup.stderr
    bad = gaung.invoke(app, ["post", "add", "--opd", "DINKES", "--url", "ftp://x.id/a"])
    assert bad.exit_code == 1 and "http" in bad.stderr
    with Session(engine) as session:
        post = session.get(Post, int(post_id))
        assert post is not None and (post.platform, post.status) == ("instagram", "approved")
        assert len(session.exec(select(Delivery)).all()) == 4

    report = json.loads(ok(gaung, "report", "--format", "json"))
    same = json.loads(ok(gaung, "report", "--json"))
    # The default window ends "now": the two runs may fall in different seconds.
    assert {k: v for k, v in report.items() if k not in ("start", "end")} == {
        k: v for k, v in same.items() if k not in ("start", "end")
    }
    assert same["start"] >= report["start"] and same["end"] >= report["end"]
    assert report["total"]["asn_roster"] == 2 and report["total"]["asn_registered"] == 2
    assert [r["kode"] for r in report["opd"]] == ["DINKES", "DISKOMINFO"]
    csv_text = ok(gaung, "report", "--format", "csv")
    assert csv_text.splitlines()[0].startswith("kode,nama,asn_roster")
    assert csv_text.splitlines()[-1].startswith("TOTAL,")
    table = ok(gaung, "report")
    assert "DINKES" in table and "TOTAL" in table

    target = tmp_path / "laporan.xlsx"
    ok(gaung, "report", "--format", "xlsx", "--output", str(target), "--start", "2026-01-01")
    sheet = load_workbook(target).active
    assert sheet is not None
    assert sheet.freeze_panes == "A4"
    assert sheet["A3"].value == "Kode OPD"
    assert sheet["E4"].number_format == "0.0%"
    assert "2026-01-01T00:00:00+07:00" in str(sheet["A1"].value)


def test_report_rejects_bad_windows(gaung: CliRunner) -> None:
    result = gaung.invoke(app, ["report", "--start", "2026-12-01", "--end", "2026-11-01"])
    assert result.exit_code == 1 and "start" in result.stderr
    result = gaung.invoke(app, ["report", "--start", "kemarin"])
    assert result.exit_code == 1 and "kemarin" in result.stderr
    result = gaung.invoke(app, ["report", "--format", "pdf"])
    assert result.exit_code == 1


def test_a_malformed_setting_stops_with_one_line_naming_it(
    gaung: CliRunner, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GAUNG_TELEGRAM_RATE", "cepat")
    result = gaung.invoke(app, ["report"])
    assert result.exit_code == 2
    assert result.stderr.startswith("gaung: setting GAUNG_TELEGRAM_RATE:")
    assert result.stderr.count("\n") == 1
    monkeypatch.setenv("GAUNG_TELEGRAM_RATE", "100")
    result = gaung.invoke(app, ["report"])
    assert result.exit_code == 2 and "PAID_BROADCAST" in result.stderr
