"""The dashboard in a real browser: the distribution's headless Chromium driven by Playwright,
against a real uvicorn server on a loopback port and a SQLite test database.

Catches what HTTP tests cannot: the charts actually drawn by the vendored Chart.js under the
page's Content-Security-Policy, the sign-in form and cookie as a browser handles them, a
download started by a click, and a layout that fits a phone. Screenshots are left in
``test-artifacts/`` (git-ignored) for a person to look at.
"""

from __future__ import annotations

import csv
import io
import os
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import uvicorn
from sqlalchemy import Engine

from api.app import create_app
from db.engine import make_engine
from tests.api.conftest import app_settings, make_key
from tests.api.november import seed_november

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
IN_CI = os.environ.get("CI", "").lower() == "true"


@pytest.fixture
def browser_engine(sqlite_template: Path, tmp_path: Path) -> Iterator[Engine]:
    if not CHROMIUM.exists():
        message = f"{CHROMIUM} not installed (apt-get install chromium)"
        if IN_CI:
            pytest.fail(message + "; CI must run the browser test")
        pytest.skip(message)
    target = tmp_path / "gaung.db"
    shutil.copyfile(sqlite_template, target)
    engine = make_engine(f"sqlite:///{target}")
    yield engine
    engine.dispose()


@pytest.fixture
def base_url(browser_engine: Engine) -> Iterator[str]:
    """A uvicorn server in a thread, on a socket bound before it starts (no port race)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    app = create_app(app_settings(browser_engine.url.render_as_string(hide_password=False)))
    config = uvicorn.Config(app, log_level="warning", ws="none", lifespan="on")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=20)
        sock.close()


def test_sign_in_read_filter_download_and_screenshot(browser_engine: Engine, base_url: str) -> None:
    from playwright.sync_api import sync_playwright

    seed_november(browser_engine)
    key = make_key(browser_engine, "diskominfo")["Authorization"].removeprefix("Bearer ")
    ARTIFACTS.mkdir(exist_ok=True)
    problems: list[str] = []

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            context = browser.new_context(
                accept_downloads=True, locale="id-ID", viewport={"width": 1280, "height": 900}
            )
            page = context.new_page()
            page.on("pageerror", lambda exc: problems.append(f"pageerror: {exc}"))
            page.on(
                "console",
                lambda msg: (
                    problems.append(f"console: {msg.text}") if msg.type == "error" else None
                ),
            )

            page.goto(f"{base_url}/dashboard")
            assert page.url == f"{base_url}/dashboard/masuk"
            page.fill("#kunci", key)
            page.click("button:has-text('Masuk')")
            page.wait_for_url(f"{base_url}/dashboard")
            assert page.text_content("[data-testid=pengguna]") == "Diskominfo"
            cookies = context.cookies()
            assert [(c["name"], c["httpOnly"], c["sameSite"]) for c in cookies] == [
                ("gaung_sesi", True, "Lax")
            ]
            assert key not in cookies[0]["value"]

            page.fill("#dari", "2026-11-01")
            page.fill("#sampai", "2026-11-30")
            page.click("button:has-text('Terapkan')")
            page.wait_for_url("**/dashboard?dari=2026-11-01&sampai=2026-11-30&opd=")

            def figure(name: str) -> str:
                return " ".join((page.text_content(f"[data-testid=angka-{name}]") or "").split())

            assert figure("terdaftar") == "4 / 7"
            assert figure("partisipasi") == "36,4%"
            assert figure("terkirim") == "11"
            assert figure("like-share") == "3 · 2"
            ranking = page.evaluate("() => Chart.getChart('grafik-peringkat').data.labels")
            assert ranking == ["DINKES", "KABUPATEN", "DISDIK"]
            trend_points = page.evaluate(
                "() => Chart.getChart('grafik-tren').data.datasets[0].data.filter(v => v !== null)"
            )
            assert trend_points == [0.5, pytest.approx(1 / 3), 0.25]
            assert page.evaluate("() => Chart.getChart('grafik-corong').data.datasets[0].data") == [
                7,
                4,
                4,
                3,
            ]
            page.screenshot(path=ARTIFACTS / "dasbor-kabupaten.png", full_page=True)

            with page.expect_download() as started:
                page.click("[data-testid=unduh-csv]")
            download = started.value
            assert download.suggested_filename == "partisipasi-20261101-20261130.csv"
            saved = ARTIFACTS / download.suggested_filename
            download.save_as(saved)
            rows = {r["kode"]: r for r in csv.DictReader(io.StringIO(saved.read_text()))}
            assert (rows["TOTAL"]["delivered"], rows["TOTAL"]["participated"]) == ("11", "4")

            page.select_option("#opd", "DISDIK")
            page.click("button:has-text('Terapkan')")
            page.wait_for_url("**opd=DISDIK")
            assert figure("terdaftar") == "1 / 1"
            assert figure("partisipasi") == "33,3%"
            assert page.locator("#grafik-peringkat").count() == 0

            page.set_viewport_size({"width": 390, "height": 844})
            # Charts redraw on resize; then nothing may stick out sideways on a phone.
            page.wait_for_function(
                "() => document.documentElement.scrollWidth"
                " <= document.documentElement.clientWidth",
                timeout=5000,
            )
            page.screenshot(path=ARTIFACTS / "dasbor-ponsel-disdik.png", full_page=True)

            page.click("button:has-text('Keluar')")
            page.wait_for_url(f"{base_url}/dashboard/masuk")
            assert context.cookies() == []
        finally:
            browser.close()
    assert problems == []
    assert (ARTIFACTS / "dasbor-kabupaten.png").stat().st_size > 10_000
