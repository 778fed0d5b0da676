"""PostgreSQL stopped under a running API: requests get a quick 503 with a JSON reason, never a
500 or a hang, and the API answers again by itself once the server is back. The webhooks
(Telegram's and WhatsApp's) likewise answer 503 at once, so the platform keeps the update and
sends it again, and store it when it comes back."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session

from api.app import create_app
from bot.emulators.telegram import TelegramEmulator
from bot.whatsapp.webhook import signature
from db.accounts.apikeys import create_api_key
from db.engine import make_engine
from tests.api.conftest import SAME_ORIGIN, app_settings
from tests.api.test_webhook_answers import _status_body
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


TG_SECRET = "t" * 40
WA_SECRET = "a" * 32


def _until(answer: Callable[[], object], wanted: object, within: float = 20) -> object:
    """Ask again (as Telegram and Meta do) until the answer is ``wanted``: the last answer."""
    deadline = time.monotonic() + within
    got = answer()
    while got != wanted and time.monotonic() < deadline:
        time.sleep(0.2)
        got = answer()
    return got


def test_the_webhooks_answer_503_fast_while_postgresql_is_down_and_store_later(
    cluster: Cluster,
) -> None:
    url = cluster.migrated("gaung")
    with TelegramEmulator(local_webhooks=True) as tg:
        settings = app_settings(
            url,
            telegram_token=tg.token,
            telegram_api_url=tg.url,
            telegram_webhook_secret=TG_SECRET,
            public_url="http://127.0.0.1:9",
            whatsapp_token="EAAG-UJI",
            whatsapp_phone_id="1065",
            whatsapp_api_url="http://127.0.0.1:9",  # nothing is sent: statuses are only stored
            whatsapp_app_secret=WA_SECRET,
        )
        with TestClient(create_app(settings)) as client:
            updates = iter(range(1, 1000))

            def telegram() -> int:
                update = {"update_id": next(updates), "message": {"message_id": 1}}
                headers = {"X-Telegram-Bot-Api-Secret-Token": TG_SECRET}
                return client.post("/webhook/telegram", json=update, headers=headers).status_code

            def whatsapp() -> int:
                body = _status_body(f"wamid.{next(updates)}", "delivered")
                headers = {"X-Hub-Signature-256": signature(WA_SECRET, body)}
                return client.post("/webhook/whatsapp", content=body, headers=headers).status_code

            def telegram_health() -> object:
                return client.get("/healthz").json()["channels"]["telegram"]

            assert _until(telegram_health, "ok") == "ok"
            assert (telegram(), whatsapp()) == (200, 200)
            cluster.shut_down()
            for hook in (telegram, whatsapp, telegram, whatsapp):
                started = time.monotonic()
                assert hook() == 503
                assert time.monotonic() - started < 5
            cluster.restart(durable=False)
            assert _until(telegram, 200) == 200
            assert _until(whatsapp, 200) == 200
