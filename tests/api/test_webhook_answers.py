"""The webhooks' answers, through the fast wrapper and through the FastAPI routes alike.

``api.routes.webhooks.Webhooks`` answers ``POST /webhook/telegram`` and ``POST
/webhook/whatsapp`` ahead of FastAPI; the routes stay for servers without it. Both must answer
every case the same, and the wrapper must still be timed under the route's own name in
``/metrics``.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import Engine, func, select

from api.app import create_app
from api.routes.webhooks import Webhooks
from bot.emulators.telegram import TelegramEmulator
from bot.whatsapp.webhook import signature
from db.models import ProcessedUpdate, table
from tests.api.conftest import app_settings

SECRET = "t" * 40
HOOK = "/webhook/telegram"
METRICS_TOKEN = "m" * 40


Case = tuple[dict[str, str], bytes, int, str]  # headers, body, status, part of the detail


def refused_in_own_words(client: TestClient, path: str, cases: list[Case]) -> None:
    for headers, body, status, detail in cases:
        response = client.post(path, content=body, headers=headers)
        assert (response.status_code, response.headers["content-type"]) == (
            status,
            "application/json",
        ), body
        assert detail in response.json()["detail"], body


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
        app.user_middleware = [m for m in app.user_middleware if m.cls is not Webhooks]
    with TestClient(app) as client:
        yield client


def test_each_refusal_is_answered_in_its_own_words(webhook: TestClient) -> None:
    good = {"X-Telegram-Bot-Api-Secret-Token": SECRET}
    cases: list[Case] = [
        ({}, b'{"update_id": 1}', 403, "secret token salah"),
        ({"X-Telegram-Bot-Api-Secret-Token": "x" * 40}, b'{"update_id": 1}', 403, "salah"),
        (good, b"{not json", 400, "badan permintaan bukan JSON"),
        (good, b'{"message": {}}', 400, "update_id tidak ada"),
        (good, b'[{"update_id": 1}]', 400, "update_id tidak ada"),
        (good, b'{"update_id": 1, "message": {"message_id": 1}}', 503, "belum tersimpan"),
    ]
    refused_in_own_words(webhook, HOOK, cases)
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


# --- WhatsApp ---------------------------------------------------------------------------------

APP_SECRET = "rahasia-aplikasi-meta-uji-0123456789"
WA_HOOK = "/webhook/whatsapp"


def _wa_app(database_url: str, mode: str, *, configured: bool = True) -> TestClient:
    """A server with the WhatsApp number configured (nothing is sent in these tests: statuses
    are only stored) or not (no service: 503), through the wrapper or the FastAPI route."""
    number = (
        {
            "whatsapp_token": "EAAG-UJI",
            "whatsapp_phone_id": "1065",
            "whatsapp_api_url": "http://127.0.0.1:9",
        }
        if configured
        else {}
    )
    app = create_app(app_settings(database_url, whatsapp_app_secret=APP_SECRET, **number))
    if mode == "route":
        app.user_middleware = [m for m in app.user_middleware if m.cls is not Webhooks]
    return TestClient(app)


def _status_body(message: str, status: str) -> bytes:
    item = {
        "id": message,
        "status": status,
        "timestamp": "1764547200",
        "recipient_id": "62810",
        "biz_opaque_callback_data": "g1:999999",  # no such delivery: stored, changes nothing
    }
    value = {"metadata": {"phone_number_id": "1065"}, "contacts": [], "statuses": [item]}
    entry = {"id": "1", "changes": [{"field": "messages", "value": value}]}
    return json.dumps({"object": "whatsapp_business_account", "entry": [entry]}).encode()


@pytest.mark.parametrize("mode", ["wrapper", "route"])
def test_whatsapp_posts_are_answered_alike_and_only_signed_ones_stored(
    database_url: str, engine: Engine, mode: str
) -> None:
    body = _status_body("wamid.A", "delivered")
    signed = {"X-Hub-Signature-256": signature(APP_SECRET, body)}
    with _wa_app(database_url, mode) as client:
        cases: list[Case] = [
            ({}, body, 403, "X-Hub-Signature-256 salah"),
            ({"X-Hub-Signature-256": signature("lain", body)}, body, 403, "salah"),
            # Signed over other bytes (the same JSON re-serialised): refused, never parsed.
            ({"X-Hub-Signature-256": signature(APP_SECRET, body + b" ")}, body, 403, "salah"),
            ({"X-Hub-Signature-256": signature(APP_SECRET, b"{x")}, b"{x", 400, "tidak terbaca"),
            ({"X-Hub-Signature-256": signature(APP_SECRET, b"[]")}, b"[]", 400, "tidak terbaca"),
        ]
        refused_in_own_words(client, WA_HOOK, cases)
        inbox = select(func.count()).select_from(table(ProcessedUpdate))
        with engine.connect() as conn:
            assert conn.execute(inbox).scalar_one() == 0  # refused: recorded nowhere
        for _ in range(2):  # Meta's duplicate: 200 again, stored once
            response = client.post(WA_HOOK, content=body, headers=signed)
            assert (response.status_code, response.content) == (200, b"")
        with engine.connect() as conn:
            assert conn.execute(inbox).scalar_one() == 1
        assert client.get(WA_HOOK).status_code == 403  # the handshake is FastAPI's, as before
    with _wa_app(database_url, mode, configured=False) as client:
        response = client.post(WA_HOOK, content=body, headers=signed)
        assert (response.status_code, response.json()["detail"]) == (503, "WhatsApp belum diatur")
