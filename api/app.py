"""The HTTP application: ``create_app(settings)`` builds one app per database, no globals."""

from __future__ import annotations

import asyncio
import gc
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy import exc as sa_exc

from api.broadcasting import recap_loop
from api.guards import Guards
from api.metrics import LatencyMiddleware, Metrics
from api.routes import activity as activity_routes
from api.routes import dashboard, health, links, opd, participation, posts, trend, webhooks
from api.routes import whatsapp as whatsapp_routes
from bot.channels.registry import build_registry, whatsapp_configured
from bot.clarification import reach_recap_loop
from bot.runtime import use_db_threads
from bot.telegram.service import TelegramService
from db.engine import make_engine, unreachable
from db.errors import GaungError
from db.settings import Settings

log = logging.getLogger("gaung.api")

DESCRIPTION = """
Partisipasi ASN Kabupaten Mojokerto dalam menggaungkan unggahan resmi OPD.

Semua rute `/api/v1` memerlukan `Authorization: Bearer <kunci API>`. Kunci Diskominfo melihat
semua OPD; kunci OPD hanya OPD-nya sendiri (lainnya: 403). Like dan share adalah **laporan
mandiri** ASN; `delivered` **diukur** dari saluran. Waktu disimpan dalam UTC dan ditampilkan
dalam WIB.
"""


def settle_heap() -> None:
    """Exclude what start-up built (modules, the app, the bot) from the garbage collector.

    Everything imported and built so far lives as long as the process, yet every full
    collection walked all of it again: under a burst of webhook taps a quarter of the event
    loop's time went to the collector. ``gc.freeze`` moves those objects out of its sight
    (their reference counts still free them; only cycles among them wait for the
    ``gc.unfreeze`` at shutdown).
    """
    gc.collect()
    gc.freeze()


def create_app(
    settings: Settings, *, with_worker: bool = False, long_lived: bool = False
) -> FastAPI:
    """``with_worker`` runs the delivery workers inside this process (``gaung serve --worker``).
    ``long_lived``: the app is the process's one app until it stops (``gaung serve``), so what
    start-up built is settled out of the collector's sight (``settle_heap``); an app among many
    in one process (the tests build hundreds) skips it: each full collection there walked the
    whole test process, 0.2 s of CPU per app."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        use_db_threads()
        engine = make_engine(
            settings.database_url,
            connect_timeout=settings.database_connect_timeout,
            statement_timeout=settings.database_statement_timeout,
        )
        app.state.engine = engine
        stop = asyncio.Event()
        worker: asyncio.Task[object] | None = None
        # One pacer per channel, on the bot's one budget shared with every other process.
        registry = build_registry(settings, engine)
        telegram: TelegramService | None = None
        if settings.telegram_token:
            telegram = TelegramService(settings, engine, registry.pacers["telegram"])
            await telegram.start()
        app.state.telegram = telegram
        whatsapp = None
        if whatsapp_configured(settings):  # pywa is imported only for a configured number
            from bot.whatsapp.service import start_whatsapp

            whatsapp = start_whatsapp(
                settings,
                engine,
                telegram.notifier if telegram else None,
                registry.pacers.get("whatsapp"),
            )
        if whatsapp is not None:
            await whatsapp.start()
        app.state.whatsapp = whatsapp
        recaps: asyncio.Task[None] | None = None
        reach: asyncio.Task[int] | None = None
        if with_worker:
            broadcaster = registry.broadcaster()
            worker = asyncio.create_task(broadcaster.run(stop))
            notifier = telegram.notifier if telegram else whatsapp.notifier if whatsapp else None
            if notifier is not None:
                recaps = asyncio.create_task(
                    recap_loop(engine, settings, notifier, broadcaster, stop)
                )
                reach = asyncio.create_task(reach_recap_loop(engine, notifier, stop))
        if long_lived:
            settle_heap()
        try:
            yield
        finally:
            stop.set()
            if worker is not None:
                await worker
            if recaps is not None:
                await recaps
            if reach is not None:
                await reach
            if telegram is not None:
                await telegram.stop()
            if whatsapp is not None:
                await whatsapp.stop()
            await registry.aclose()
            engine.dispose()
            if long_lived:
                gc.unfreeze()  # a stopped app leaves nothing frozen

    app = FastAPI(
        title="Gaung API",
        version="1",
        description=DESCRIPTION,
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.add_middleware(webhooks.Webhooks)  # inside the guards: see api.routes.webhooks
    app.add_middleware(Guards, settings=settings)
    app.state.metrics = Metrics(app)
    app.add_middleware(LatencyMiddleware, metrics=app.state.metrics)

    @app.exception_handler(GaungError)
    async def _domain_error(_: Request, exc: GaungError) -> JSONResponse:
        return JSONResponse({"detail": exc.message}, status_code=exc.status_code)

    @app.exception_handler(RequestValidationError)
    async def _validation_error(_: Request, exc: RequestValidationError) -> JSONResponse:
        details = "; ".join(
            f"{'.'.join(str(p) for p in err.get('loc', ())[1:]) or 'body'}: {err.get('msg')}"
            for err in exc.errors()
        )
        return JSONResponse({"detail": details or "permintaan tidak valid"}, status_code=422)

    @app.exception_handler(sa_exc.DBAPIError)
    @app.exception_handler(sa_exc.TimeoutError)
    async def _database_error(_: Request, exc: Exception) -> JSONResponse:
        """The database away (or overwhelmed) is a 503 that clients retry, not a 500; the
        engine's pool pings connections before use, so the API recovers by itself when the
        database is back. The message names no parameters (``hide_parameters``)."""
        if unreachable(exc):
            log.warning("database unreachable: %s", type(exc.__cause__ or exc).__name__)
            return JSONResponse(
                {"detail": "basis data sedang tidak terjangkau; coba lagi sebentar lagi"},
                status_code=503,
                headers={"Retry-After": "5"},
            )
        log.error("database error", exc_info=exc)
        return JSONResponse({"detail": "kesalahan internal"}, status_code=500)

    app.include_router(health.router)
    app.include_router(participation.router)
    app.include_router(trend.router)
    app.include_router(posts.router)
    app.include_router(webhooks.router)
    app.include_router(opd.router)
    app.include_router(dashboard.router)
    app.include_router(links.router)
    app.include_router(whatsapp_routes.router)
    app.include_router(activity_routes.router)
    return app
