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


def _git(root: Path, *args: str) -> None:
    import subprocess

    subprocess.run(
        ["git", "-C", str(root), "-c", "user.name=t", "-c", "user.email=t@t", *args],
        check=True,
        capture_output=True,
    )


def test_a_dirty_tree_is_refused_unless_allowed_and_results_md_does_not_count(
    tmp_path: Path,
) -> None:
    from bench.__main__ import DirtyTree, check_tree, revision

    _git(tmp_path, "init", "-q")
    (tmp_path / "bench").mkdir()
    (tmp_path / "bench" / "RESULTS.md").write_text("old\n")
    (tmp_path / "code.py").write_text("x = 1\n")
    _git(tmp_path, "add", ".")
    _git(tmp_path, "commit", "-q", "-m", "one")
    clean = check_tree(False, tmp_path)
    assert clean.clean and len(clean.commit) == 40
    assert clean.describe() == f"commit `{clean.commit[:12]}`, clean tree"

    (tmp_path / "bench" / "RESULTS.md").write_text("a section just written\n")
    assert revision(tmp_path).clean  # writing one section must not refuse the next

    (tmp_path / "code.py").write_text("x = 2\n")
    (tmp_path / "new.py").write_text("y = 1\n")  # not yet added: still not the commit's code
    with pytest.raises(DirtyTree, match=r"code\.py"):
        check_tree(False, tmp_path)
    dirty = check_tree(True, tmp_path)
    assert not dirty.clean and "DIRTY tree (2 changed files)" in dirty.describe()


def test_bench_refuses_to_run_on_a_dirty_tree_before_measuring_anything(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from bench import __main__ as runner

    dirty = runner.Revision("f" * 40, (" M db/models.py",))
    monkeypatch.setattr(runner, "revision", lambda root=runner.ROOT: dirty)
    monkeypatch.delenv("GAUNG_BENCH_ALLOW_DIRTY", raising=False)
    monkeypatch.setattr(runner.importlib, "import_module", lambda name: pytest.fail(name))
    with pytest.raises(SystemExit, match=r"refusing to write bench/RESULTS\.md.*db/models\.py"):
        runner.main(["webhook"])
