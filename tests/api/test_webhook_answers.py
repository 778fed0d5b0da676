"""The Telegram webhook's answers, through the fast wrapper and through the FastAPI route alike.

``api.routes.webhooks.TelegramWebhook`` answers ``POST /webhook/telegram`` ahead of FastAPI;
the route stays for servers without it. Both must answer every case the same, and the wrapper
must still be timed under the route's own name in ``/metrics``.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from api.app import create_app
from api.routes.webhooks import TelegramWebhook
from bot.emulators.telegram import TelegramEmulator
from tests.api.conftest import app_settings

SECRET = "t" * 40
HOOK = "/webhook/telegram"
METRICS_TOKEN = "m" * 40


@pytest.fixture(params=["wrapper", "route"])
def webhook(request: pytest.FixtureRequest, database_url: str) -> Iterator[TestClient]:
    """A server whose bot cannot reach the Bot API (the emulator is not started), so the
    inbox is not running: a well-formed update is refused with 503, which Telegram retries."""
    tg = TelegramEmulator(local_webhooks=True)
    settings = app_settings(
        database_url,
        telegram_token=tg.token,
        telegram_api_url=tg.url,
        telegram_webhook_secret=SECRET,
        public_url="http://127.0.0.1:9",
        metrics_token=METRICS_TOKEN,
    )
    app = create_app(settings)
    if request.param == "route":  # before the first request builds the middleware stack
        app.user_middleware = [m for m in app.user_middleware if m.cls is not TelegramWebhook]
    with TestClient(app) as client:
        yield client


def test_each_refusal_is_answered_in_its_own_words(webhook: TestClient) -> None:
    good = {"X-Telegram-Bot-Api-Secret-Token": SECRET}
    cases = [
        ({}, b'{"update_id": 1}', 403, "secret token salah"),
        ({"X-Telegram-Bot-Api-Secret-Token": "x" * 40}, b'{"update_id": 1}', 403, "salah"),
        (good, b"{not json", 400, "badan permintaan bukan JSON"),
        (good, b'{"message": {}}', 400, "update_id tidak ada"),
        (good, b'[{"update_id": 1}]', 400, "update_id tidak ada"),
        (good, b'{"update_id": 1, "message": {"message_id": 1}}', 503, "belum tersimpan"),
    ]
    for headers, body, status, detail in cases:
        response = webhook.post(HOOK, content=body, headers=headers)
        assert (response.status_code, response.headers["content-type"]) == (
            status,
            "application/json",
        ), body
        assert detail in response.json()["detail"], body
    # Any other method or path is FastAPI's, as before.
    assert webhook.get(HOOK).status_code == 405
    assert webhook.post(f"{HOOK}/x", content=b"{}", headers=good).status_code == 404


def test_the_webhook_is_timed_under_its_route(webhook: TestClient) -> None:
    for _ in range(3):
        webhook.post(HOOK, content=b"{}", headers={"X-Telegram-Bot-Api-Secret-Token": SECRET})
    counts = {
        tuple(sorted(s.labels.items())): s.value
        for family in text_string_to_metric_families(
            webhook.get("/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"}).text
        )
        for s in family.samples
        if s.name == "gaung_http_request_duration_seconds_count"
    }
    assert counts[(("method", "POST"), ("route", HOOK), ("status", "4xx"))] == 3
