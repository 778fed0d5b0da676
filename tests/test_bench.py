"""Benchmarks run rarely and outside pytest; at least every one of them must import."""

from __future__ import annotations

import importlib
import pkgutil
from pathlib import Path

import pytest

import bench

MODULES = sorted(info.name for info in pkgutil.iter_modules(bench.__path__))


@pytest.mark.parametrize("name", MODULES)
def test_benchmark_module_imports(name: str) -> None:
    importlib.import_module(f"bench.{name}")


def test_every_registered_benchmark_is_a_module() -> None:
    from bench.__main__ import BENCHMARKS

    assert set(BENCHMARKS) <= set(MODULES)


def test_a_result_replaces_its_own_section_and_keeps_what_another_run_wrote_meanwhile(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from bench import __main__ as runner

    monkeypatch.setattr(runner, "RESULTS", tmp_path / "RESULTS.md")
    runner._write("webhook", "## Webhook\nold")
    runner._write("broadcast", "## Broadcast\nfrom another run")  # finished while webhook ran
    runner._write("webhook", "## Webhook\nnew")
    text = runner.RESULTS.read_text(encoding="utf-8")
    assert "new" in text and "old" not in text and "from another run" in text
    assert text.index("## Webhook") < text.index("## Broadcast")  # the registered order
