from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlmodel import Session

from api.app import create_app
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
