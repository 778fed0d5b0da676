"""A throwaway PostgreSQL cluster for the tests: ``initdb`` + ``pg_ctl`` in a temp folder.

PostgreSQL refuses to run as root, so under root (CI, containers) the server runs as the
``postgres`` system user that the distribution's package creates.

Tests run the server without durability (``FAST``: no fsync, asynchronous commit, no
full-page writes): a test's data is thrown away, and the suite runs several times faster.
Benchmarks ask for ``durable=True``, PostgreSQL's production defaults, since a figure measured
on a server that would lose committed data on a power cut says nothing about production.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import subprocess
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import text

from bot.emulators.thread import free_port
from db.engine import make_engine
from db.migrate import upgrade

__all__ = ["Cluster", "find_binary", "free_port", "server_options", "server_user", "start_cluster"]


def find_binary(name: str) -> str | None:
    found = shutil.which(name)
    if found:
        return found
    candidates = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    return candidates[-1] if candidates else None


def server_user(folder: Path) -> Callable[[], None] | None:
    """Under root, give ``folder`` to the ``postgres`` user and return what makes a child
    process that user (for ``preexec_fn``); otherwise None: we run the server ourselves."""
    if os.geteuid() != 0:
        return None
    user = pwd.getpwnam("postgres")
    os.chown(folder, user.pw_uid, user.pw_gid)

    def demote() -> None:
        os.setgid(user.pw_gid)
        os.setuid(user.pw_uid)

    return demote


@dataclass
class Cluster:
    folder: Path
    port: int
    pg_ctl: str
    demote: Callable[[], None] | None

    @property
    def url(self) -> str:
        return f"postgresql+psycopg://gaung@127.0.0.1:{self.port}"

    def crash(self, *, check: bool = True) -> None:
        """Stop the server as a crash would (no checkpoint): committed data must survive."""
        self._stop("immediate", check=check)

    def shut_down(self) -> None:
        """Stop the server cleanly (a checkpoint first): the database is away, nothing is lost
        even on the tests' server without synchronous commits."""
        self._stop("fast", check=True)

    def _stop(self, mode: str, *, check: bool) -> None:
        subprocess.run(
            [self.pg_ctl, "-D", str(self.folder / "data"), "-m", mode, "stop"],
            preexec_fn=self.demote,
            capture_output=True,
            check=check,
        )

    def migrated(self, name: str) -> str:
        """A new database ``name`` on this server, migrated to the head: its URL."""
        admin = make_engine(f"{self.url}/postgres", isolation_level="AUTOCOMMIT")
        try:
            with admin.connect() as conn:
                conn.execute(text(f"CREATE DATABASE {name}"))
        finally:
            admin.dispose()
        url = f"{self.url}/{name}"
        engine = make_engine(url)
        try:
            upgrade(engine)
        finally:
            engine.dispose()
        return url

    def restart(self, *, durable: bool) -> None:
        """Start the server again on its own port, after ``crash`` or ``shut_down``."""
        start_server(
            self.folder / "data", self.folder, self.demote, durable=durable, port=self.port
        )

    def stop(self) -> None:
        self.crash(check=False)
        shutil.rmtree(self.folder, ignore_errors=True)


COMMON = "-c listen_addresses=127.0.0.1 -c max_connections=300 -c shared_buffers=128MB"
FAST = "-c fsync=off -c synchronous_commit=off -c full_page_writes=off"
DURABLE = "-c fsync=on -c synchronous_commit=on -c full_page_writes=on"  # the defaults, said


def server_options(*, durable: bool) -> str:
    """``postgres`` options for a cluster: the tests' fast ones or the production defaults."""
    return f"{COMMON} {DURABLE if durable else FAST}"


def binaries() -> tuple[str, str]:
    """``initdb`` and ``pg_ctl``, or FileNotFoundError."""
    initdb, pg_ctl = find_binary("initdb"), find_binary("pg_ctl")
    if not initdb or not pg_ctl:
        raise FileNotFoundError("initdb/pg_ctl not found")
    return initdb, pg_ctl


def init_data(data: Path, demote: Callable[[], None] | None, *, durable: bool) -> None:
    """``initdb`` a data directory (user ``gaung``, trust, UTF8, C locale)."""
    initdb, _ = binaries()
    args = ["-D", str(data), "-U", "gaung", "--auth=trust", "-E", "UTF8", "--locale=C"]
    subprocess.run(
        [initdb, *args, *([] if durable else ["--no-sync"])],
        preexec_fn=demote,
        capture_output=True,
        check=True,
    )


def start_server(
    data: Path,
    folder: Path,
    demote: Callable[[], None] | None,
    *,
    durable: bool,
    port: int | None = None,
) -> int:
    """Start the server of ``data`` on ``port`` (default: a free one), its socket and log in
    ``folder``: the port."""
    _, pg_ctl = binaries()
    port = port or free_port()
    options = f"-p {port} -k {folder} {server_options(durable=durable)}"
    subprocess.run(
        [pg_ctl, "-D", str(data), "-o", options, "-l", str(folder / "log"), "-w", "start"],
        preexec_fn=demote,
        capture_output=True,
        check=True,
    )
    return port


def start_cluster(*, durable: bool = False) -> Cluster:
    """A fresh cluster in a temporary folder; ``durable`` for benchmarks (see above)."""
    _, pg_ctl = binaries()
    folder = Path(tempfile.mkdtemp(prefix="gaung-pg-"))
    demote = server_user(folder)
    init_data(folder / "data", demote, durable=durable)
    port = start_server(folder / "data", folder, demote, durable=durable)
    return Cluster(folder, port, pg_ctl, demote)
