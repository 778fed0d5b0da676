"""``/healthz`` and ``/metrics``: what an operator's monitoring reads (docs/operations.md)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import JSONResponse
from sqlalchemy import Engine, text
from sqlalchemy.exc import SQLAlchemyError

from api.deps import get_engine
from db.delivery.coordination import channel_pauses
from db.engine import session_scope
from db.types import utcnow

router = APIRouter(tags=["kesehatan"])


def channel_health(app: Any, engine: Engine) -> dict[str, str]:
    """Each configured channel: ok, degraded (not connected yet, or in a flood wait) or down
    (the token is refused). A channel's trouble never makes the service itself unhealthy."""
    found: dict[str, str] = {}
    telegram = getattr(app.state, "telegram", None)
    if telegram is not None:
        found["telegram"] = telegram.health
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


@router.get("/metrics", summary="Metrik Prometheus", include_in_schema=False)
def metrics(request: Request) -> Response:
    from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

    return Response(
        generate_latest(request.app.state.metrics.registry),
        200,
        {"Content-Type": CONTENT_TYPE_LATEST},
    )
