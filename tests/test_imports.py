"""The shape of the house: imports flow ``api → bot → db``, and no module imports itself back.

Read from the source (every ``import``, at module level or inside a function), so a lazy import
that only hides a cycle from Python is still caught.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("api", "bot", "db")
ALLOWED = {"api": {"api", "bot", "db"}, "bot": {"bot", "db"}, "db": {"db"}}


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def graph() -> dict[str, set[str]]:
    files = [
        p for pkg in PACKAGES for p in (ROOT / pkg).rglob("*.py") if "migrations" not in p.parts
    ]
    modules = {module_name(p): p for p in files}
    edges: dict[str, set[str]] = {m: set() for m in modules}
    for name, path in modules.items():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            targets: list[str] = []
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                targets = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
            for target in targets:
                if target in modules and target != name:
                    edges[name].add(target)
    return edges


def test_imports_flow_api_to_bot_to_db() -> None:
    wrong = [
        f"{src} imports {dst}"
        for src, dsts in graph().items()
        for dst in dsts
        if dst.split(".")[0] not in ALLOWED[src.split(".")[0]]
    ]
    assert wrong == []


def test_no_import_cycles() -> None:
    edges = graph()
    cycles: list[list[str]] = []
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(edges[node]):
            if state.get(nxt) == 1:
                cycles.append([*stack[stack.index(nxt) :], nxt])
            elif nxt not in state:
                visit(nxt)
        stack.pop()
        state[node] = 2

    for node in sorted(edges):
        if node not in state:
            visit(node)
    # A package's __init__ re-exporting its modules is not a cycle of meaning.
    real = [c for c in cycles if not any(m in PACKAGES or "." not in m for m in c)]
    assert real == []
