"""PostgreSQL stopped under a running API: requests get a quick 503 with a JSON reason, never a
500 or a hang, and the API answers again by itself once the server is back."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session

from api.app import create_app
from db.accounts.apikeys import create_api_key
from db.engine import make_engine
from tests.api.conftest import SAME_ORIGIN, app_settings
from tests.factories import add_asn
from tests.pg import Cluster, start_cluster


@pytest.fixture
def cluster() -> Iterator[Cluster]:
    """A server of this test's own, since it is stopped and started again."""
    try:
        own = start_cluster()
    except (FileNotFoundError, OSError) as exc:
        pytest.skip(f"PostgreSQL server not available: {exc}")
    try:
        yield own
    finally:
        own.stop()


def test_the_api_answers_503_while_postgresql_is_down_and_recovers(cluster: Cluster) -> None:
    url = cluster.migrated("gaung")
    engine = make_engine(url)
    with Session(engine) as session:
        add_asn(session, opd="DINKES")
        _, key = create_api_key(session, role="diskominfo")
        session.commit()
    engine.dispose()
    headers = {"Authorization": f"Bearer {key}"}

    with TestClient(create_app(app_settings(url)), headers=SAME_ORIGIN) as client:
        assert client.get("/api/v1/participation", headers=headers).status_code == 200

        # A clean stop: the throwaway cluster runs without synchronous commits, and a crash
        # would lose the key made above (not what this test is about).
        cluster.shut_down()
        for method, path in (("GET", "/api/v1/participation"), ("POST", "/api/v1/posts")):
            started = time.monotonic()
            response = client.request(
                method, path, headers=headers, json={"url": "https://x.com/a/status/1"}
            )
            assert time.monotonic() - started < 5
            assert response.status_code == 503, response.text
            assert "basis data" in response.json()["detail"]
            assert response.headers["retry-after"] == "5"

        cluster.restart(durable=False)
        answered = client.get("/api/v1/participation", headers=headers)
        assert answered.status_code == 200, answered.text
        body = {"url": "https://x.com/a/status/2", "opd": "DINKES"}
        created = client.post("/api/v1/posts", headers=headers, json=body)
        assert created.status_code == 201, created.text
