from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlmodel import Session

from api.app import create_app
from db.accounts.apikeys import create_api_key
from db.settings import Settings


@pytest.fixture
def client(database_url: str) -> Iterator[TestClient]:
    app = create_app(Settings(database_url=database_url))
    with TestClient(app) as client:
        yield client


def make_key(engine: Engine, role: str, opd: str | None = None) -> dict[str, str]:
    with Session(engine) as session:
        _, plain = create_api_key(session, role=role, opd_kode=opd)
        session.commit()
    return {"Authorization": f"Bearer {plain}"}
