"""The image installs runtime dependencies only; `make test` gets the same versions plus tools."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# The tools that must never ship in the image (the dev group also names pyyaml, which the
# runtime has anyway through uvicorn[standard]).
TOOLS = ("hypothesis", "mypy", "playwright", "pytest", "pytest-timeout", "ruff", "types-openpyxl")
PIN = re.compile(r"^([A-Za-z0-9_.\-\[\]]+)==(\S+) \\$", re.MULTILINE)


def _name(requirement: str) -> str:
    return re.split(r"[\[<>=~!; ]", requirement, maxsplit=1)[0].lower().replace("_", "-")


def _pins(lock: str) -> dict[str, str]:
    text = (ROOT / lock).read_text()
    assert "--hash=sha256:" in text
    return {name.lower(): version for name, version in PIN.findall(text)}


def test_runtime_lock_has_no_dev_tools_and_agrees_with_the_dev_lock() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    runtime, dev = _pins("requirements.lock"), _pins("requirements-dev.lock")
    for requirement in project["project"]["dependencies"]:
        assert _name(requirement) in runtime, requirement
    for tool in project["dependency-groups"]["dev"]:
        assert _name(tool) in dev, tool
    for name in TOOLS:
        assert name in dev and name not in runtime, f"{name} would ship in the image"
    assert {name: dev.get(name) for name in runtime} == runtime  # same versions in both
    docker = (ROOT / "Dockerfile").read_text()
    assert "-r requirements.lock" in docker and "requirements-dev.lock" not in docker
