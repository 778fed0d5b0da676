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
