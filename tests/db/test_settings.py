"""Settings refuse what would fail later, with one line naming the setting."""

from __future__ import annotations

import pytest

from db.settings import SettingsError, load_settings


@pytest.mark.parametrize(
    "url",
    [
        "https://gaung.mojokertokab.go.id",
        "https://gaung.mojokertokab.go.id:8443/",
        "http://127.0.0.1:8000",
        "http://127.5.0.1",
        "http://localhost:8080",
        "http://[::1]:8000",
    ],
)
def test_public_url_is_https_or_a_loopback_http_address(url: str) -> None:
    assert load_settings(public_url=url).public_url == url.rstrip("/")


@pytest.mark.parametrize(
    "url",
    [
        "http://gaung.mojokertokab.go.id",
        "http://10.1.2.3:8000",
        "http://127.0.0.1.nip.io",  # a name that merely starts like a loopback address
        "ftp://gaung.mojokertokab.go.id",
    ],
)
def test_public_url_refuses_plain_http_to_another_machine(url: str) -> None:
    with pytest.raises(SettingsError) as refused:
        load_settings(public_url=url)
    message = str(refused.value)
    assert message.startswith("setting GAUNG_PUBLIC_URL:") and "\n" not in message
    assert "https://" in message


def test_a_webhook_address_must_be_on_a_port_telegram_calls() -> None:
    secret = {"telegram_webhook_secret": "rahasia-" * 4}
    for port in (443, 80, 88, 8443):
        url = f"https://gaung.mojokertokab.go.id:{port}"
        assert load_settings(public_url=url, **secret).public_url == url
    assert load_settings(public_url="http://127.0.0.1:8123", **secret).public_url
    # Without a webhook (long polling) the address only serves the dashboard: any port.
    assert load_settings(public_url="https://gaung.mojokertokab.go.id:8000").public_url
    with pytest.raises(SettingsError, match=r"GAUNG_PUBLIC_URL: .*443, 80, 88 or 8443.* 8000"):
        load_settings(public_url="https://gaung.mojokertokab.go.id:8000", **secret)


@pytest.mark.parametrize("name", ["secret_key", "metrics_token"])
def test_a_secret_is_at_least_32_characters(name: str) -> None:
    with pytest.raises(SettingsError, match=rf"GAUNG_{name.upper()}: .*at least 32 characters"):
        load_settings(**{name: "x" * 31})
    assert load_settings(**{name: "x" * 32})
