"""Request dependencies: one database session per request, and the calling API key.

Two rules keep the API alive under load (200 concurrent clients deadlocked it before):

- **A request holds at most one connection at a time**, and the API key is checked on the
  request's own session. ``get_principal`` writes ``last_used_at`` (at most once a minute per
  key) only after ending the request's read transaction, in a short write transaction of its
  own.
- **Requests wait for a database slot on the event loop, never in a worker thread.** FastAPI
  runs sync endpoints, and then the validation of their return value, in a pool of 40
  threads, and ends ``yield`` dependencies (where the session commits and gives its connection
  back) only after that. So a request keeps its connection while it waits for a thread to
  serialise its response. When more requests than the pool has connections got that far,
  every thread was taken by a request waiting for a connection and every connection by a
  request waiting for a thread: nothing moved until the pool's 30 s or SQLite's 60 s busy
  timeout fired. ``get_session`` admits at most ``pool_size`` requests (fewer than the thread
  pool) to the database at once, so a slot holder never waits for a connection, and a thread
  is always free for it to finish.

GET and HEAD requests get a read-only session: on SQLite a deferred transaction, which in WAL
mode never waits for the write lock, so readers neither queue behind writers nor block them;
on PostgreSQL a ``READ ONLY`` transaction, so a GET route that tries to write fails in the
tests (which run on both engines) rather than at random under load on SQLite. A GET route that
must write opens its own ``session_scope(engine)``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

import anyio
import anyio.to_thread
from fastapi import Depends, FastAPI, HTTPException, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy import Engine
from sqlalchemy.pool import QueuePool
from sqlmodel import Session

from db.accounts.apikeys import LastUseThrottle, Principal, identify, record_use
from db.engine import session_scope
from db.errors import Forbidden
from db.models import Role
from db.settings import Settings
from db.types import utcnow

READ_METHODS = frozenset({"GET", "HEAD"})
# Threads kept out of reach of database requests: the event loop's other sync work (health
# checks, webhooks, dependencies that do not touch the database) must always find one.
SPARE_THREADS = 8


# Plain attribute reads: ``async`` so that FastAPI runs them on the event loop instead of
# queueing each for a worker thread, where every request would wait behind all others.
async def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


async def get_engine(request: Request) -> Engine:
    engine: Engine = request.app.state.engine
    return engine


def request_slots(engine: Engine) -> int:
    """How many requests may use the database at once: the pool's steady size, and always
    fewer than the worker threads, so that a request holding a connection can get a thread.
    The pool's overflow stays for the delivery workers and webhooks in the same process."""
    pool = engine.pool
    size = pool.size() if isinstance(pool, QueuePool) else 5
    threads = int(anyio.to_thread.current_default_thread_limiter().total_tokens)
    return max(1, min(size, threads - SPARE_THREADS))


def _slots(app: FastAPI, engine: Engine) -> anyio.Semaphore:
    # Made on first use, inside the event loop; only the loop's thread runs this, so no race.
    gate: anyio.Semaphore | None = getattr(app.state, "db_slots", None)
    if gate is None:
        gate = anyio.Semaphore(request_slots(engine))
        app.state.db_slots = gate
    return gate


async def get_session(
    request: Request, engine: Annotated[Engine, Depends(get_engine)]
) -> AsyncIterator[Session]:
    """The request's unit of work, read-only for GET and HEAD (see the module docstring).

    First a database slot, awaited on the event loop while holding nothing. Opening the
    session does no I/O, so it happens right here too; the commit (or rollback) at the end
    runs in a thread of its own, outside the shared thread limit, as FastAPI does for
    ``yield`` dependencies, so that giving a connection back never waits for a thread.
    """
    async with _slots(request.app, engine):
        scope = session_scope(engine, readonly=request.method in READ_METHODS)
        session = scope.__enter__()
        try:
            yield session
        except BaseException as exc:
            with anyio.CancelScope(shield=True):
                await anyio.to_thread.run_sync(
                    scope.__exit__, type(exc), exc, exc.__traceback__, limiter=_own_thread()
                )
            raise
        else:
            with anyio.CancelScope(shield=True):
                await anyio.to_thread.run_sync(
                    scope.__exit__, None, None, None, limiter=_own_thread()
                )


def _own_thread() -> anyio.CapacityLimiter:
    return anyio.CapacityLimiter(1)


bearer = HTTPBearer(auto_error=False, description="Kunci API Gaung")


def _throttle(app: FastAPI) -> LastUseThrottle:
    throttle: LastUseThrottle | None = getattr(app.state, "last_use", None)
    if throttle is None:  # a race here at worst lets two requests write in one minute
        throttle = LastUseThrottle()
        app.state.last_use = throttle
    return throttle


def get_principal(
    request: Request,
    engine: Annotated[Engine, Depends(get_engine)],
    session: Annotated[Session, Depends(get_session)],
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> Principal:
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise HTTPException(
            401,
            "kunci API diperlukan: Authorization: Bearer <kunci>",
            {"WWW-Authenticate": "Bearer"},
        )
    found = identify(session, credentials.credentials)
    if found is None:
        raise HTTPException(
            401, "kunci API tidak dikenal atau sudah dicabut", {"WWW-Authenticate": "Bearer"}
        )
    principal, last_used_at = found
    now = utcnow()
    if _throttle(request.app).claim(principal.key_id, last_used_at, now):
        if request.method in READ_METHODS:
            # End the read transaction first: one connection at a time, and on SQLite a read
            # transaction must not turn into a write (it cannot wait for the lock).
            session.commit()
            with session_scope(engine) as writer:
                record_use(writer, principal.key_id, now)
        else:
            record_use(session, principal.key_id, now)
    return principal


SettingsDep = Annotated[Settings, Depends(get_settings)]
SessionDep = Annotated[Session, Depends(get_session)]
PrincipalDep = Annotated[Principal, Depends(get_principal)]


def require_diskominfo(principal: PrincipalDep) -> Principal:
    if principal.role != Role.DISKOMINFO:
        raise Forbidden("hanya kunci Diskominfo yang boleh melakukan ini")
    return principal


DiskominfoDep = Annotated[Principal, Depends(require_diskominfo)]


def check_opd_access(principal: Principal, opd_id: int | None) -> None:
    if principal.opd_id is not None and opd_id != principal.opd_id:
        raise Forbidden("kunci OPD hanya boleh melihat OPD-nya sendiri")
