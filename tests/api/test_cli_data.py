"""The CLI's personal-data commands and its failures: each is one line and a non-zero exit."""

from __future__ import annotations

import json
import time
import zipfile
from pathlib import Path

import pytest
from sqlalchemy import Engine, text
from sqlmodel import Session, select
from typer.testing import CliRunner, Result

from bot.emulators.telegram.runner import TelegramEmulator
from db.migrate import current_revision, downgrade
from db.models import ApiKey, Asn, ChatIdentity, Opd
from tests.api.conftest import invoke, ok
from tests.factories import register

A = "198503122010011004"
PPPK = "199009132023211014"


def one_line_failure(result: Result, code: int = 1) -> str:
    assert result.exit_code == code, (result.output, result.exception)
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("gaung: "), result.stderr
    assert "Traceback" not in result.stderr
    return lines[0]


def roster(tmp_path: Path) -> Path:
    path = tmp_path / "roster.csv"
    path.write_text(
        "nip,nama,opd_kode,opd_nama,telepon,status\n"
        f"{A},Budi Santoso,DINKES,Dinas Kesehatan,0812-3456-7890,PNS\n"
        f"{PPPK},Pipit,DINKES,,,PPPK\n",
        encoding="utf-8",
    )
    return path


@pytest.mark.parametrize(
    "url", ["bukan url", "mysql+nosuchdriver://u:rahasia@h/db", "kacau://u:rahasia@x/y"]
)
def test_a_malformed_database_url_is_one_line(
    gaung: CliRunner, monkeypatch: pytest.MonkeyPatch, url: str
) -> None:
    monkeypatch.setenv("GAUNG_DATABASE_URL", url)
    for args in (("report",), ("db", "upgrade"), ("worker",), ("asn", "export", A)):
        line = one_line_failure(invoke(gaung, *args), code=2)
        assert line.startswith("gaung: setting GAUNG_DATABASE_URL tidak sah")
        assert "rahasia" not in line


def test_an_unreachable_database_server_is_one_line(
    gaung: CliRunner, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GAUNG_DATABASE_URL", "postgresql://gaung:rahasia@127.0.0.1:9/gaung")
    for args in (("report",), ("db", "upgrade"), ("broadcast", "1")):
        line = one_line_failure(invoke(gaung, *args))
        assert line.startswith("gaung: basis data tidak bisa dipakai:") and "rahasia" not in line


def test_a_service_waits_for_an_unreachable_server_then_says_so_in_one_line(
    gaung: CliRunner, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GAUNG_DATABASE_URL", "postgresql://gaung:rahasia@127.0.0.1:9/gaung")
    monkeypatch.setattr("api.cli.STARTUP_PATIENCE", 1.5)
    started = time.monotonic()
    result = invoke(gaung, "worker")
    assert time.monotonic() - started >= 1.5  # waited (a one-off command above does not)
    assert result.exit_code == 1 and result.stdout == "" and "Traceback" not in result.stderr
    waited, line = result.stderr.strip().splitlines()
    assert waited == "gaung: basis data belum terjangkau; menunggu sampai 2 detik"
    assert line.startswith("gaung: basis data tidak bisa dipakai:") and "rahasia" not in line


def test_a_database_not_yet_migrated_is_one_line(gaung: CliRunner, engine: Engine) -> None:
    downgrade(engine, "-1")
    line = one_line_failure(invoke(gaung, "report"))
    assert f"revisi {current_revision(engine)}," in line and "gaung db upgrade" in line
    downgrade(engine, "base")
    for args in (("report",), ("roster", "import", "x.csv"), ("broadcast", "1"), ("worker",)):
        assert "belum dibuat: jalankan `gaung db upgrade`" in one_line_failure(invoke(gaung, *args))
    ok(gaung, "db", "upgrade")
    ok(gaung, "report", "--json")


def test_an_unwritable_output_is_one_line(gaung: CliRunner, tmp_path: Path) -> None:
    target = str(tmp_path / "tidak-ada" / "laporan")
    for fmt in ("csv", "xlsx", "json", "table"):
        line = one_line_failure(invoke(gaung, "report", "--format", fmt, "--output", target))
        assert line.startswith(f"gaung: tidak bisa menulis {target}")


def test_database_errors_during_broadcast_are_one_line(
    gaung: CliRunner, engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    ok(gaung, "opd", "import")
    post_id = ok(
        gaung, "post", "add", "--opd", "DINKES", "--url", "https://x.com/a/status/1", "--approve"
    )
    with engine.begin() as conn:
        conn.execute(text("DROP TABLE button_refresh"))
        conn.execute(text("DROP TABLE confirmation"))
        conn.execute(text("DROP TABLE delivery"))
    line = one_line_failure(invoke(gaung, "broadcast", post_id.strip()))
    assert line.startswith("gaung: basis data tidak bisa dipakai:")
    with TelegramEmulator() as tg:  # the channel answers, so the database is what fails
        monkeypatch.setenv("GAUNG_TELEGRAM_TOKEN", tg.token)
        monkeypatch.setenv("GAUNG_TELEGRAM_API_URL", tg.url)
        line = one_line_failure(invoke(gaung, "broadcast", post_id.strip(), "--wait"))
    assert line.startswith("gaung: basis data tidak bisa dipakai:")


def test_diskominfo_with_an_opd_is_refused(gaung: CliRunner, engine: Engine) -> None:
    ok(gaung, "opd", "import")
    for args in (
        ("apikey", "create", "--role", "diskominfo", "--opd", "DINKES"),
        ("admin", "add", "--role", "diskominfo", "--opd", "DINKES", "--telegram-id", "42"),
    ):
        assert "tanpa --opd" in one_line_failure(invoke(gaung, *args))
    with Session(engine) as session:
        assert session.exec(select(ApiKey)).all() == []
    ok(gaung, "apikey", "create", "--role", "opd", "--opd", "DINKES")


def test_opd_import_before_the_first_roster(
    gaung: CliRunner, engine: Engine, tmp_path: Path
) -> None:
    first = json.loads(ok(gaung, "opd", "import", "--json"))
    assert (first["rows"], first["added"], first["rejected"]) == (58, 58, [])
    again = json.loads(ok(gaung, "opd", "import", "--json"))
    assert (again["added"], again["unchanged"]) == (0, 58)
    ok(gaung, "admin", "add", "--role", "opd", "--opd", "DINKES", "--telegram-id", "7")
    custom = tmp_path / "opd.csv"
    custom.write_text(
        "Kode,Nama,Jenis\nDINKES,Dinas Kesehatan Daerah,dinas\nBARU,Badan Baru,badan\n"
        "BARU,Badan Lain,badan\n,Tanpa Kode,\nX Y,Spasi,\n",
        encoding="utf-8",
    )
    out = ok(gaung, "opd", "import", str(custom))
    assert "ditambah: 1  diperbarui: 1  tetap: 0  ditolak: 3" in out
    assert "baris 4: kode OPD BARU sudah ada di baris 3" in out
    with Session(engine) as session:
        names = {o.kode: o.nama for o in session.exec(select(Opd))}
    assert (names["DINKES"], names["BARU"], len(names)) == (
        "Dinas Kesehatan Daerah",
        "Badan Baru",
        59,
    )
    assert "tidak ditemukan" in one_line_failure(invoke(gaung, "opd", "import", "tidak-ada.csv"))


def test_asn_export_and_erase_by_letter(gaung: CliRunner, engine: Engine, tmp_path: Path) -> None:
    ok(gaung, "roster", "import", str(roster(tmp_path)))
    with Session(engine) as session:
        budi = session.exec(select(Asn).where(Asn.nip == A)).one()
        register(session, budi, external_id="5550001")
        session.commit()
    data = json.loads(ok(gaung, "asn", "export", "1985 0312 2010 01 1 004"))
    assert data["roster"]["nip"] == A and data["roster"]["status"] == "PNS"
    assert [a["account_id"] for a in data["chat_accounts"]] == ["5550001"]
    erased = json.loads(ok(gaung, "asn", "erase", A, "--json"))
    assert (erased["accounts"], erased["deliveries"]) == (1, 0)
    after = json.loads(ok(gaung, "asn", "export", A))
    assert [e["action"] for e in after["audit_log"]][-2:] == ["asn.export", "asn.erase"]
    assert after["chat_accounts"] == [] and after["consent"]["erased_at"]
    assert after["roster"]["telepon"] == "+6281234567890"
    with Session(engine) as session:
        assert session.exec(select(ChatIdentity)).all() == []
    assert "tidak ada di roster" in one_line_failure(
        invoke(gaung, "asn", "erase", "199001012015032001")
    )
    assert "18 digit" in one_line_failure(invoke(gaung, "asn", "export", "123"))


def test_report_by_status(gaung: CliRunner, tmp_path: Path) -> None:
    ok(gaung, "roster", "import", str(roster(tmp_path)))
    total = json.loads(ok(gaung, "report", "--json", "--status", "PPPK"))["total"]
    assert total["asn_roster"] == 1
    assert "PNS atau PPPK" in one_line_failure(invoke(gaung, "report", "--status", "honorer"))


def test_a_zip_bomb_roster_is_one_line(gaung: CliRunner, tmp_path: Path) -> None:
    bomb = tmp_path / "roster.xlsx"
    with (
        zipfile.ZipFile(bomb, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=1) as zf,
        zf.open("xl/worksheets/sheet1.xml", "w", force_zip64=True) as entry,
    ):
        for _ in range(260):
            entry.write(b"\0" * (1024 * 1024))
    assert "mengembang" in one_line_failure(invoke(gaung, "roster", "import", str(bomb)))
