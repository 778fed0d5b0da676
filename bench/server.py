"""``gaung serve`` in a process of its own, as the HTTP benchmarks load it.

One uvicorn worker, started with the benchmark's settings as environment variables, its output
in ``serve.log`` in the benchmark's folder, ready once ``/healthz`` answers 200.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Mapping
from pathlib import Path

import httpx

from tests.pg import free_port


def serve(
    settings: Mapping[str, str],
    folder: Path,
    *,
    source: Path | None = None,
    drop: tuple[str, ...] = (),
) -> tuple[subprocess.Popen[bytes], int]:
    """Start ``gaung serve`` on a free loopback port: (process, port).

    ``settings`` are added to this process's environment (``drop`` names variables taken out
    of it), and ``GAUNG_PUBLIC_URL`` is set to the server's own address. ``source``: a tree of
    the project's code to run instead of this checkout's (found first on ``PYTHONPATH``,
    ahead of the editable install; same interpreter and packages), for a before/after.
    """
    port = free_port()
    env = os.environ | dict(settings) | {"GAUNG_PUBLIC_URL": f"http://127.0.0.1:{port}"}
    if source is not None:
        env["PYTHONPATH"] = str(source)
    for name in drop:
        env.pop(name, None)
    log = (folder / "serve.log").open("ab")
    process = subprocess.Popen(
        [sys.executable, "-m", "api.cli", "serve", "--host", "127.0.0.1", "--port", str(port)],
        env=env,
        stdout=log,
        stderr=log,
        cwd=folder,
    )
    for _ in range(300):
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                return process, port
        except httpx.HTTPError:
            pass
        if process.poll() is not None:
            break
        time.sleep(0.1)
    process.kill()
    raise RuntimeError("gaung serve did not start: " + (folder / "serve.log").read_text()[-2000:])


def stop(process: subprocess.Popen[bytes]) -> None:
    """Terminate (uvicorn finishes what it holds), or kill after a minute."""
    process.terminate()
    try:
        process.wait(timeout=60)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
