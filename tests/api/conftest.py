from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlmodel import Session
from typer.testing import CliRunner, Result

from api.app import create_app
from api.cli import app as gaung_app
from db.accounts.apikeys import create_api_key
from db.settings import Settings

# The dashboard signs its links and sessions with this; ``gaung serve`` requires one.
SECRET_KEY = "uji-kunci-rahasia-dasbor-0123456789abcdef"
# A browser names the page a form was posted from; the dashboard refuses POSTs that do not.
SAME_ORIGIN = {"Origin": "http://testserver"}


def app_settings(database_url: str, **overrides: object) -> Settings:
    return Settings(database_url=database_url, secret_key=SECRET_KEY, **overrides)  # type: ignore[arg-type]


@pytest.fixture
def client(database_url: str) -> Iterator[TestClient]:
    app = create_app(app_settings(database_url))
    with TestClient(app, headers=SAME_ORIGIN) as client:
        yield client


def make_key(engine: Engine, role: str, opd: str | None = None) -> dict[str, str]:
    with Session(engine) as session:
        _, plain = create_api_key(session, role=role, opd_kode=opd)
        session.commit()
    return {"Authorization": f"Bearer {plain}"}


@pytest.fixture
def gaung(database_url: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> CliRunner:
    """The ``gaung`` command on this test's database, from an empty folder (no stray .env or
    gaung.db of the checkout) and without a Graph API token (sources must ask for one)."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("GAUNG_DATABASE_URL", database_url)
    monkeypatch.delenv("GAUNG_META_GRAPH_TOKEN", raising=False)
    return CliRunner()


def invoke(runner: CliRunner, *args: str) -> Result:
    return runner.invoke(gaung_app, list(args))


def ok(runner: CliRunner, *args: str) -> str:
    """Run a command that must succeed: its standard output."""
    result = invoke(runner, *args)
    assert result.exit_code == 0, (result.output, result.stderr)
    return result.stdout
