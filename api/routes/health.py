"""``/healthz`` and ``/metrics``: what an operator's monitoring reads (docs/operations.md)."""

from __future__ import annotations

import hmac
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import JSONResponse
from sqlalchemy import Engine, text
from sqlalchemy.exc import SQLAlchemyError

from api.deps import get_engine
from db.delivery.coordination import channel_pauses
from db.engine import session_scope
from db.settings import Settings
from db.types import utcnow

router = APIRouter(tags=["kesehatan"])


def channel_health(app: Any, engine: Engine) -> dict[str, str]:
    """Each configured channel: ok, degraded (not connected yet, or in a flood wait) or down
    (the token is refused). A channel's trouble never makes the service itself unhealthy."""
    found: dict[str, str] = {}
    for name in ("telegram", "whatsapp"):
        service = getattr(app.state, name, None)
        if service is not None:
            found[name] = service.health
    if found:
        now = utcnow()
        with session_scope(engine, readonly=True) as session:
            for name, until in channel_pauses(session).items():
                if found.get(name) == "ok" and until > now:
                    found[name] = "degraded"
    return found


@router.get("/healthz", summary="Hidup, basis data, dan tiap saluran (ok/degraded/down)")
def healthz(request: Request, engine: Annotated[Engine, Depends(get_engine)]) -> JSONResponse:
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        channels = channel_health(request.app, engine)
    except SQLAlchemyError as exc:
        body = {"status": "down", "database": "down", "error": exc.__class__.__name__}
        return JSONResponse(body, 503)
    status = "ok" if all(state == "ok" for state in channels.values()) else "degraded"
    return JSONResponse({"status": status, "database": "ok", "channels": channels})


def _metrics_allowed(request: Request) -> Response | None:
    """None when the request carries ``GAUNG_METRICS_TOKEN`` as a bearer token; otherwise the
    answer: 404 while no token is set (the route is off: queue depths and worker counts are
    no one's business by default), 401 for a missing or wrong token. Compared in constant
    time, so the answer's timing does not leak the token."""
    settings: Settings = request.app.state.settings
    if settings.metrics_token is None:
        return JSONResponse({"detail": "Not Found"}, 404)
    scheme, _, given = request.headers.get("authorization", "").partition(" ")
    expected = settings.metrics_token.get_secret_value().encode()
    if scheme.lower() != "bearer" or not hmac.compare_digest(given.strip().encode(), expected):
        return JSONResponse(
            {"detail": "token metrik tidak valid"}, 401, {"WWW-Authenticate": "Bearer"}
        )
    return None


@router.get("/metrics", summary="Metrik Prometheus", include_in_schema=False)
def metrics(request: Request) -> Response:
    from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

    refused = _metrics_allowed(request)
    if refused is not None:
        return refused
    return Response(
        generate_latest(request.app.state.metrics.registry),
        200,
        {"Content-Type": CONTENT_TYPE_LATEST},
    )
