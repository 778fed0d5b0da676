"""The HTTP application: ``create_app(settings)`` builds one app per database, no globals."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from api.routes import dashboard, health, links, opd, participation, posts, trend, webhooks
from api.routes import whatsapp as whatsapp_routes
from bot.broadcast import Broadcaster
from bot.ratelimit import Pacer
from bot.runtime import build_channels, channel_rates, use_db_threads, worker_config
from bot.telegram.service import TelegramService
from bot.whatsapp.service import start_whatsapp
from db.engine import make_engine
from db.errors import GaungError
from db.settings import Settings

DESCRIPTION = """
Partisipasi ASN Kabupaten Mojokerto dalam menggaungkan unggahan resmi OPD.

Semua rute `/api/v1` memerlukan `Authorization: Bearer <kunci API>`. Kunci Diskominfo melihat
semua OPD; kunci OPD hanya OPD-nya sendiri (lainnya: 403). Like dan share adalah **laporan
mandiri** ASN; `delivered` **diukur** dari saluran. Waktu disimpan dalam UTC dan ditampilkan
dalam WIB.
"""


def create_app(settings: Settings, *, with_worker: bool = False) -> FastAPI:
    """``with_worker`` runs the delivery workers inside this process (``gaung serve --worker``)."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        use_db_threads()
        engine = make_engine(settings.database_url)
        app.state.engine = engine
        stop = asyncio.Event()
        worker: asyncio.Task[object] | None = None
        channels = {}
        pacer = Pacer(settings.telegram_rate)
        telegram: TelegramService | None = None
        if settings.telegram_token:
            telegram = TelegramService(settings, engine, pacer)
            await telegram.start()
        app.state.telegram = telegram
        whatsapp = start_whatsapp(settings, engine, telegram.notifier if telegram else None)
        if whatsapp is not None:
            await whatsapp.start()
        app.state.whatsapp = whatsapp
        if with_worker:
            channels = build_channels(settings, engine)
            broadcaster = Broadcaster(
                engine,
                channels,
                channel_rates(settings),
                config=worker_config(settings),
                # Replies and broadcasts of one number (or bot) draw on one budget.
                pacers={"telegram": pacer} | ({"whatsapp": whatsapp.pacer} if whatsapp else {}),
            )
            worker = asyncio.create_task(broadcaster.run(stop))
        try:
            yield
        finally:
            stop.set()
            if worker is not None:
                await worker
            for channel in channels.values():
                await channel.aclose()
            if telegram is not None:
                await telegram.stop()
            if whatsapp is not None:
                await whatsapp.stop()
            engine.dispose()

    app = FastAPI(
        title="Gaung API",
        version="1",
        description=DESCRIPTION,
        lifespan=lifespan,
    )
    app.state.settings = settings

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

    app.include_router(health.router)
    app.include_router(participation.router)
    app.include_router(trend.router)
    app.include_router(posts.router)
    app.include_router(webhooks.router)
    app.include_router(opd.router)
    app.include_router(dashboard.router)
    app.include_router(links.router)
    app.include_router(whatsapp_routes.router)
    return app
