"""compose.yaml: no default database password, serve on loopback, a health check per service."""

from __future__ import annotations

from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent


def test_compose_requires_the_password_binds_loopback_and_checks_each_service() -> None:
    text = (ROOT / "compose.yaml").read_text()
    compose = yaml.safe_load(text)
    services = compose["services"]
    assert "${POSTGRES_PASSWORD:?" in services["db"]["environment"]["POSTGRES_PASSWORD"]
    assert ":-" not in text  # no default for any secret
    for name in ("migrate", "serve", "worker"):
        url = services[name]["environment"]["GAUNG_DATABASE_URL"]
        assert "${POSTGRES_PASSWORD:?" in url, name
        assert services[name]["environment"]["GAUNG_SECRET_KEY"].startswith("${GAUNG_SECRET_KEY:?")
    assert all(port.startswith("127.0.0.1:") for port in services["serve"]["ports"])
    checks = {name: services[name]["healthcheck"]["test"] for name in ("db", "serve", "worker")}
    assert checks["serve"][-3:] == ["api.healthcheck", "serve", "8000"]
    assert checks["worker"][-2:] == ["api.healthcheck", "worker"]  # not the HTTP port it lacks
    assert services["migrate"]["healthcheck"] == {"disable": True}
