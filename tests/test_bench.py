"""Benchmarks run rarely and outside pytest; at least every one of them must import."""

from __future__ import annotations

import importlib
import pkgutil

import pytest

import bench

MODULES = sorted(info.name for info in pkgutil.iter_modules(bench.__path__))


@pytest.mark.parametrize("name", MODULES)
def test_benchmark_module_imports(name: str) -> None:
    importlib.import_module(f"bench.{name}")


def test_every_registered_benchmark_is_a_module() -> None:
    from bench.__main__ import BENCHMARKS

    assert set(BENCHMARKS) <= set(MODULES)
