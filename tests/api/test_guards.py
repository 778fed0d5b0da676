"""HTTP hardening: body limits, nesting, Origin, HSTS, the secret key, and what logs hold."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlmodel import Session, select

from api.app import create_app
from api.logs import JsonFormatter, TextFormatter
from db.models import Opd
from db.settings import SettingsError, load_settings
from tests.api.conftest import SAME_ORIGIN, app_settings, make_key
from tests.factories import add_asn

WEBHOOK_SECRET = "w" * 32


@pytest.fixture
def bare(database_url: str) -> Iterator[TestClient]:
    """A client that sends no Origin, as scripts and Telegram do; small body limit."""
    settings = app_settings(
        database_url, max_body_bytes=4096, telegram_webhook_secret=WEBHOOK_SECRET
    )
    with TestClient(create_app(settings)) as client:
        yield client


def _post(client: TestClient, engine: Engine, body: bytes, **headers: str) -> int:
    """POST a body to /api/v1/posts with an OPD key of DINKES."""
    with Session(engine) as session:
        if session.exec(select(Opd).where(Opd.kode == "DINKES")).first() is None:
            add_asn(session, opd="DINKES")
            session.commit()
    auth = make_key(engine, "opd", "DINKES")
    return client.post(
        "/api/v1/posts",
        content=body,
        headers=auth | {"content-type": "application/json"} | headers,
    ).status_code


def test_bodies_over_the_limit_are_refused_before_parsing(bare: TestClient, engine: Engine) -> None:
    big = json.dumps({"url": "https://instagram.com/p/x", "caption": "a" * 5000}).encode()
    response = bare.post("/api/v1/posts", content=big, headers={"content-type": "application/json"})
    assert response.status_code == 413 and "terlalu besar" in response.json()["detail"]

    def streamed() -> Iterator[bytes]:  # no Content-Length: counted as it arrives
        for _ in range(10):
            yield b" " * 1000

    chunked = bare.post("/webhook/telegram", content=streamed())
    assert chunked.status_code == 413
    assert _post(bare, engine, b'{"url": "https://instagram.com/p/ok"}') == 201


def test_json_nested_too_deep_is_a_400_not_a_500(database_url: str, engine: Engine) -> None:
    settings = app_settings(database_url, telegram_webhook_secret=WEBHOOK_SECRET)
    with TestClient(create_app(settings), raise_server_exceptions=False) as client:
        deep = b"[" * 100_000 + b"]" * 100_000
        assert _post(client, engine, deep) == 400
        webhook = client.post(
            "/webhook/telegram",
            content=b'{"update_id": 1, "x": ' + deep + b"}",
            headers={"X-Telegram-Bot-Api-Secret-Token": WEBHOOK_SECRET},
        )
        assert webhook.status_code == 400 and "bersarang" in webhook.json()["detail"]
        # Many brackets, shallow: parsed as usual (here: refused by the model, 422).
        wide = json.dumps({"url": "https://instagram.com/p/y", "opd": [[1]] * 2000}).encode()
        assert _post(client, engine, wide) == 422


def test_posts_from_another_site_are_refused(bare: TestClient, engine: Engine) -> None:
    form = {"kunci": "gaung_salah"}
    assert bare.post("/dashboard/masuk", data=form).status_code == 403  # no Origin at all
    evil = {"Origin": "https://jahat.example"}
    refused = bare.post("/dashboard/masuk", data=form, headers=evil)
    assert refused.status_code == 403 and refused.json() == {"detail": "Origin tidak diizinkan"}
    assert bare.post("/dashboard/keluar", headers={"Origin": "null"}).status_code == 403
    referer = {"Referer": "http://testserver/dashboard/masuk"}
    assert bare.post("/dashboard/masuk", data=form, headers=referer).status_code == 401
    assert bare.post("/dashboard/masuk", data=form, headers=SAME_ORIGIN).status_code == 401
    # Scripts send no Origin and carry a key, not a cookie: allowed; a foreign page is not.
    assert _post(bare, engine, b'{"url": "https://instagram.com/p/a"}') == 201
    assert _post(bare, engine, b'{"url": "https://instagram.com/p/b"}', **evil) == 403
    assert bare.get("/dashboard/masuk", headers=evil).status_code == 200  # reads are fine


@pytest.mark.parametrize(
    ("public_url", "hsts"), [("https://gaung.mojokertokab.go.id", True), (None, False)]
)
def test_hsts_when_served_over_https(database_url: str, public_url: str | None, hsts: bool) -> None:
    settings = app_settings(database_url, public_url=public_url)
    with TestClient(create_app(settings)) as client:
        for response in (client.get("/healthz"), client.get("/api/v1/participation")):
            assert ("strict-transport-security" in response.headers) is hsts
            if hsts:
                assert "max-age=63072000" in response.headers["strict-transport-security"]


def test_without_a_secret_key_nobody_signs_in(database_url: str, engine: Engine) -> None:
    settings = load_settings(database_url=database_url, _env_file=None)
    assert settings.secret_key is None
    key = make_key(engine, "diskominfo")["Authorization"].removeprefix("Bearer ")
    with TestClient(create_app(settings), headers=SAME_ORIGIN) as client:
        page = client.get("/dashboard/masuk")
        assert page.status_code == 503 and "GAUNG_SECRET_KEY" in page.text
        signed = client.post("/dashboard/masuk", data={"kunci": key}, follow_redirects=False)
        assert signed.status_code == 503 and "set-cookie" not in signed.headers


def test_secrets_that_are_too_short_are_refused() -> None:
    with pytest.raises(SettingsError, match=r"GAUNG_TELEGRAM_WEBHOOK_SECRET.*32"):
        load_settings(telegram_webhook_secret="a" * 31, _env_file=None)
    with pytest.raises(SettingsError, match="GAUNG_TELEGRAM_WEBHOOK_SECRET"):
        load_settings(telegram_webhook_secret="a" * 31 + "!", _env_file=None)
    assert load_settings(telegram_webhook_secret="a" * 32, _env_file=None)
    with pytest.raises(SettingsError, match=r"GAUNG_SECRET_KEY.*32"):
        load_settings(secret_key="pendek", _env_file=None)
    # WhatsApp: the app secret signs Meta's events (anyone holding it poses as any user).
    with pytest.raises(SettingsError, match=r"GAUNG_WHATSAPP_APP_SECRET.*32"):
        load_settings(whatsapp_app_secret="a" * 31, _env_file=None)
    assert load_settings(whatsapp_app_secret="0f" * 16, _env_file=None).whatsapp_app_secret
    assert load_settings(whatsapp_app_secret="", _env_file=None).whatsapp_app_secret is None


def test_log_lines_mask_tokens_nips_and_phones() -> None:
    token = "123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw0"
    try:
        raise RuntimeError(f"POST https://api.telegram.org/bot{token}/sendMessage failed")
    except RuntimeError as exc:
        record = logging.LogRecord(
            "gaung.test",
            logging.ERROR,
            __file__,
            1,
            "ASN %s (%s) not reached",
            ("198503122010011004", "+62 812-3456-7890"),
            (type(exc), exc, exc.__traceback__),
        )
    entry = json.loads(JsonFormatter().format(record))
    assert entry["level"] == "ERROR" and entry["logger"] == "gaung.test"
    assert entry["message"] == "ASN [disamarkan] ([disamarkan]) not reached"
    text = TextFormatter().format(record)
    for line in (json.dumps(entry), text):
        assert token not in line and "198503122010011004" not in line and "812" not in line


@pytest.mark.parametrize("log_format", ["json", "text"])
def test_the_log_format_setting_picks_the_lines_written(
    log_format: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """``GAUNG_LOG_FORMAT=json``: one JSON object a line on stderr, for every logger; ``text``:
    plain lines. Either way a WhatsApp id (the number without ``+``) is masked. (A logger of
    this test's own: uvicorn's may have been set to ERROR by an emulator run earlier in this
    process.)"""
    from api.logs import configure_logging

    root = logging.getLogger()
    kept = (list(root.handlers), root.level)
    try:
        configure_logging(load_settings(log_format=log_format, _env_file=None))
        logging.getLogger("gaung.uji.format").warning("pesan dari %s", "6281234567890")
        logging.getLogger("httpx").info("GET https://api.telegram.org/bot123:abc")  # too chatty
    finally:
        for handler in list(root.handlers):
            root.removeHandler(handler)
        for handler in kept[0]:
            root.addHandler(handler)
        root.setLevel(kept[1])
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1, lines
    if log_format == "json":
        entry = json.loads(lines[0])
        assert (entry["level"], entry["logger"]) == ("WARNING", "gaung.uji.format")
        assert entry["message"] == "pesan dari [disamarkan]"
    else:
        assert lines[0].endswith("WARNING gaung.uji.format: pesan dari [disamarkan]")


def test_serve_refuses_to_start_without_a_secret_key(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    import uvicorn
    from typer.testing import CliRunner

    from api.cli import app as gaung

    monkeypatch.chdir(tmp_path)  # no .env from the checkout
    monkeypatch.delenv("GAUNG_SECRET_KEY", raising=False)
    monkeypatch.setenv("GAUNG_DATABASE_URL", f"sqlite:///{tmp_path}/gaung.db")
    served: list[object] = []
    monkeypatch.setattr(uvicorn, "run", lambda application, **_: served.append(application))
    monkeypatch.setattr("api.logs.configure_logging", lambda settings: None)
    refused = CliRunner().invoke(gaung, ["serve"])
    assert refused.exit_code == 2 and not served
    assert "GAUNG_SECRET_KEY" in refused.stderr and len(refused.stderr.strip().splitlines()) == 1
    monkeypatch.setenv("GAUNG_SECRET_KEY", "s" * 32)
    assert CliRunner().invoke(gaung, ["db", "upgrade"]).exit_code == 0  # serve needs it migrated
    started = CliRunner().invoke(gaung, ["serve"])
    assert started.exit_code == 0 and len(served) == 1
