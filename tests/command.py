"""Running one ``gaung`` command to its end in its own process, as an operator types it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path


def run_gaung(
    *args: str,
    settings: dict[str, str],
    cwd: Path | None = None,
    timeout: float = 120,
    check: bool = False,
) -> subprocess.CompletedProcess[str]:
    """``gaung ARGS`` (``python -m api.cli``) with ``settings`` (``GAUNG_…`` variables) over
    this process's environment; its output as text. ``check``: a non-zero exit raises."""
    return subprocess.run(
        [sys.executable, "-m", "api.cli", *args],
        env={**os.environ, **settings},
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=check,
    )
