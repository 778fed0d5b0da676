"""Issue 12's body and error points on ``/webhook/whatsapp``: a body over the limit is a 413
and one nested past the parser a 400, each with a JSON reason; a signed body Gaung cannot read
is a 400 whose reason names what was wrong, never the phone numbers or texts it carried."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from bot.whatsapp.webhook import SIGNATURE_HEADER, signature
from tests.api.conftest import app_settings

APP_SECRET = "rahasia-aplikasi-meta-uji-0123456789"
NUMBER = "6281234567890"


@pytest.fixture
def meta(database_url: str) -> Iterator[TestClient]:
    """Posting as Meta does: no Origin; a small body limit; the app secret known."""
    settings = app_settings(database_url, max_body_bytes=4096, whatsapp_app_secret=APP_SECRET)
    with TestClient(create_app(settings), raise_server_exceptions=False) as client:
        yield client


def _signed(client: TestClient, body: bytes) -> Any:
    return client.post(
        "/webhook/whatsapp",
        content=body,
        headers={SIGNATURE_HEADER: signature(APP_SECRET, body), "content-type": "application/json"},
    )


def webhook(message: dict[str, Any]) -> bytes:
    value = {
        "messaging_product": "whatsapp",
        "metadata": {"phone_number_id": "1"},
        "contacts": [{"wa_id": NUMBER, "profile": {"name": "Budi Santoso"}}],
        "messages": [message],
    }
    change = {"field": "messages", "value": value}
    return json.dumps(
        {"object": "whatsapp_business_account", "entry": [{"id": "1", "changes": [change]}]}
    ).encode()


def test_over_the_limit_is_413_and_too_deep_is_400_with_a_reason(meta: TestClient) -> None:
    big = webhook({"from": NUMBER, "id": "wamid.1", "timestamp": "1", "type": "text",
                   "text": {"body": "a" * 5000}})  # fmt: skip
    too_big = _signed(meta, big)
    assert too_big.status_code == 413 and "terlalu besar" in too_big.json()["detail"]

    def streamed() -> Iterator[bytes]:  # no Content-Length: counted as it arrives
        yield big

    chunked = meta.post(
        "/webhook/whatsapp",
        content=streamed(),
        headers={SIGNATURE_HEADER: signature(APP_SECRET, big)},
    )
    assert chunked.status_code == 413 and "content-length" not in chunked.request.headers
    deep = b'{"object": "whatsapp_business_account", "entry": ' + b"[" * 2000 + b"]" * 2000 + b"}"
    nested = _signed(meta, deep)
    assert nested.status_code == 400 and nested.json()["detail"]


@pytest.mark.parametrize(
    "message",
    [
        # A timestamp Gaung cannot read: the parser's own error would quote the value.
        {"from": NUMBER, "id": "wamid.2", "timestamp": f"{NUMBER}x", "type": "text",
         "text": {"body": "halo"}},
        # A text without its body: a KeyError names only the key.
        {"from": NUMBER, "id": "wamid.3", "timestamp": "1", "type": "text", "text": None},
    ],
)  # fmt: skip
def test_an_unreadable_signed_event_is_400_naming_no_number_or_text(
    meta: TestClient, message: dict[str, Any], caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.DEBUG):
        answer = _signed(meta, webhook(message))
    assert answer.status_code == 400, answer.text
    detail = answer.json()["detail"]
    assert "tidak terbaca" in detail
    for secret in (NUMBER, "Budi", "halo"):
        assert secret not in detail
        assert secret not in caplog.text
