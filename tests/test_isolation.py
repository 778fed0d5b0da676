"""Tests run away from the developer's settings (a real token there would reach Telegram)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from db.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
SHOW_TOKEN = "from db.settings import Settings; print(Settings().telegram_token)"


def test_tests_run_in_an_empty_folder_without_gaung_settings(no_developer_settings: Path) -> None:
    assert Path.cwd() == no_developer_settings != ROOT
    assert not (Path.cwd() / ".env").exists()
    # The daily recap is off in tests (conftest): it keeps the wall clock, not the test's.
    allowed = {"GAUNG_TEST_DATABASE_URL", "GAUNG_RECAP_ENABLED"}
    assert not {k for k in os.environ if k.startswith("GAUNG_")} - allowed
    settings = Settings()
    assert settings.telegram_token is None
    assert settings.telegram_api_url == "https://api.telegram.org"


def test_a_command_started_by_a_test_sees_no_developer_token() -> None:
    shown = subprocess.run(
        [sys.executable, "-c", SHOW_TOKEN],
        capture_output=True,
        text=True,
        check=True,
    )
    assert shown.stdout.strip() == "None"
