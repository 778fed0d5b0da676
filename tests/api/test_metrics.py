"""`/metrics` in Prometheus format and `/healthz` per channel; serve starts without Telegram."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import Engine
from sqlmodel import Session

from api.app import create_app
from bot.emulators.telegram import TelegramEmulator
from bot.emulators.whatsapp import WhatsAppEmulator
from bot.whatsapp.webhook import signature
from db.delivery.coordination import pause_channel
from db.models import ProcessedUpdate
from db.posts.lifecycle import approve_post, submit_post
from db.settings import Settings, SettingsError, load_settings
from db.types import utcnow
from tests.api.conftest import SAME_ORIGIN, SECRET_KEY, app_settings
from tests.api.test_webhook_answers import _status_body
from tests.factories import add_asn, register

SECRET = "s" * 40


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


METRICS_TOKEN = "uji-token-metrik-prometheus-0123456789"
SCRAPE = {"Authorization": f"Bearer {METRICS_TOKEN}"}


@pytest.fixture
def scraped(database_url: str) -> Iterator[TestClient]:
    """An app with ``GAUNG_METRICS_TOKEN`` set, as Prometheus scrapes it."""
    settings = app_settings(database_url, metrics_token=METRICS_TOKEN)
    with TestClient(create_app(settings), headers=SAME_ORIGIN) as client:
        yield client


def test_metrics_is_off_without_a_token_setting(client: TestClient) -> None:
    for headers in ({}, SCRAPE, {"Authorization": "Bearer "}):
        response = client.get("/metrics", headers=headers)
        assert response.status_code == 404, response.text
        assert "gaung_" not in response.text


def test_metrics_wants_the_token_as_a_bearer(scraped: TestClient) -> None:
    wrong = (
        {},
        {"Authorization": "Bearer salah"},
        {"Authorization": f"Bearer {METRICS_TOKEN}x"},
        {"Authorization": f"Basic {METRICS_TOKEN}"},
        {"Authorization": METRICS_TOKEN},
    )
    for headers in wrong:
        response = scraped.get("/metrics", headers=headers)
        assert response.status_code == 401, (headers, response.text)
        assert response.headers["www-authenticate"] == "Bearer"
        assert "gaung_" not in response.text
    assert scraped.get("/metrics", headers=SCRAPE).status_code == 200
    assert (
        scraped.get("/metrics", headers={"Authorization": f"bearer {METRICS_TOKEN}"}).status_code
        == 200
    )


def test_a_short_metrics_token_is_refused() -> None:
    with pytest.raises(SettingsError, match="GAUNG_METRICS_TOKEN"):
        load_settings(metrics_token="pendek")


def test_metrics_read_queues_lag_and_flood_waits_and_time_requests(
    scraped: TestClient, engine: Engine
) -> None:
    client = scraped
    now = utcnow()
    with Session(engine) as session:
        for _ in range(3):
            register(session, add_asn(session, opd="DINKES"))
        post = submit_post(session, opd_kode="DINKES", url="https://instagram.com/p/metrik")
        assert post.id is not None
        approve_post(session, post.id)
        session.add(
            ProcessedUpdate(channel="telegram", update_id="1", at=now - timedelta(seconds=42))
        )
        pause_channel(session, "telegram", now + timedelta(seconds=30), now=now)
        session.commit()
    assert client.get("/healthz").status_code == 200
    response = client.get("/metrics", headers=SCRAPE)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    got = samples(response.text)
    tg = (("channel", "telegram"),)
    assert got[("gaung_database_up", ())] == 1
    assert got[("gaung_deliveries", (*tg, ("status", "pending")))] == 3
    assert got[("gaung_queue_depth", tg)] == 3
    assert got[("gaung_inbox_unhandled", tg)] == 1
    assert 41 <= got[("gaung_inbox_lag_seconds", tg)] < 120
    assert 0 < got[("gaung_flood_wait_seconds", tg)] <= 30
    assert got[("gaung_workers_live", ())] == 0
    timed = ("gaung_http_request_duration_seconds_count",)
    health = (("method", "GET"), ("route", "/healthz"), ("status", "2xx"))
    assert got[(*timed, health)] == 1


def _wait(predicate: object, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():  # type: ignore[operator]
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.05)


def assert_degraded(client: TestClient, channel: str) -> None:
    """Serving (200), the database fine, the one channel not reached yet."""
    health = client.get("/healthz")
    assert health.status_code == 200
    assert health.json() == {
        "status": "degraded",
        "database": "ok",
        "channels": {channel: "degraded"},
    }


def test_serve_starts_without_telegram_and_connects_when_it_returns(database_url: str) -> None:
    tg = TelegramEmulator(local_webhooks=True)  # not started yet: the Bot API is unreachable
    settings = Settings(
        database_url=database_url,
        secret_key=SECRET_KEY,  # type: ignore[arg-type]
        telegram_token=tg.token,
        telegram_api_url=tg.url,
        telegram_webhook_secret=SECRET,
        public_url="http://127.0.0.1:9",
    )
    with TestClient(create_app(settings, with_worker=True)) as client:
        assert_degraded(client, "telegram")
        assert client.get("/dashboard").status_code < 500  # the API and dashboard answer
        update = {"update_id": 1, "message": {"message_id": 1}}
        webhook = client.post(
            "/webhook/telegram", json=update, headers={"X-Telegram-Bot-Api-Secret-Token": SECRET}
        )
        assert webhook.status_code == 503  # Telegram will retry it
        with tg:
            _wait(lambda: client.get("/healthz").json()["channels"]["telegram"] == "ok")
            assert tg.bot.webhook.url == "http://127.0.0.1:9/webhook/telegram"
            assert client.get("/healthz").json()["status"] == "ok"


def test_serve_starts_without_whatsapp_and_reports_it_until_it_answers(
    database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The Cloud API unreachable at start-up: the API, the dashboard and the webhook answer
    (events need only the database), ``/healthz`` and ``/metrics`` call WhatsApp degraded, and
    it turns ok by itself once Meta answers; a refused token is ``down``."""
    monkeypatch.setattr("bot.whatsapp.service.REACH_FIRST", 0.2)
    wa = WhatsAppEmulator()  # not started yet: the Cloud API is unreachable
    app_secret = "a" * 32
    settings = app_settings(
        database_url,
        whatsapp_token=wa.token,
        whatsapp_phone_id=wa.phone_id,
        whatsapp_api_url=wa.url,
        whatsapp_app_secret=app_secret,
        metrics_token=METRICS_TOKEN,
    )
    with TestClient(create_app(settings, with_worker=True)) as client:
        assert_degraded(client, "whatsapp")
        up = ("gaung_channel_up", (("channel", "whatsapp"),))
        assert samples(client.get("/metrics", headers=SCRAPE).text)[up] == 0.5
        assert client.get("/dashboard").status_code < 500
        body = _status_body("wamid.1", "delivered")
        stored = client.post(
            "/webhook/whatsapp",
            content=body,
            headers={"X-Hub-Signature-256": signature(app_secret, body)},
        )
        assert stored.status_code == 200
        with wa:
            _wait(lambda: client.get("/healthz").json()["channels"]["whatsapp"] == "ok")
            assert client.get("/healthz").json()["status"] == "ok"
            assert samples(client.get("/metrics", headers=SCRAPE).text)[up] == 1.0
    with WhatsAppEmulator() as other:
        refused = {"whatsapp_token": "EAAG-SALAH", "whatsapp_api_url": other.url}
        with TestClient(create_app(settings.model_copy(update=refused))) as client:
            _wait(lambda: client.get("/healthz").json()["channels"]["whatsapp"] == "down")


def test_healthz_is_503_when_the_database_is_away(tmp_path: object) -> None:
    settings = Settings(database_url="postgresql://gaung:x@127.0.0.1:9/none")
    with TestClient(create_app(settings)) as client:
        response = client.get("/healthz")
    assert response.status_code == 503 and response.json()["database"] == "down"
