"""Meta's webhook for the WhatsApp number: the verification handshake and signed events.

The signature is checked over the exact bytes before anything else, on every POST: an
unsigned or badly signed request gets 403 and is recorded nowhere. Events are stored in the
inbox before the 200 (Meta retries anything else); handling continues after it.
"""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse, PlainTextResponse

from api.deps import SettingsDep
from api.schemas import problems
from bot.inbox import NotStored
from bot.whatsapp.webhook import (
    SIGNATURE_HEADER,
    BadEvent,
    BadSignature,
    verified_events,
    verify_challenge,
)

router = APIRouter(tags=["webhook"], responses=problems(400, 403, 413, 503))


@router.get("/webhook/whatsapp", summary="Verifikasi webhook WhatsApp (hub.challenge)")
async def whatsapp_verify(request: Request, settings: SettingsDep) -> Response:
    challenge = verify_challenge(request.query_params, settings.whatsapp_verify_token or "")
    if challenge is None:
        return JSONResponse({"detail": "verify token salah"}, 403)
    return PlainTextResponse(challenge)


@router.post("/webhook/whatsapp", summary="Peristiwa dari WhatsApp (bertanda X-Hub-Signature-256)")
async def whatsapp_webhook(request: Request, settings: SettingsDep) -> Response:
    body = await request.body()
    try:
        events = verified_events(
            body, request.headers.get(SIGNATURE_HEADER), settings.whatsapp_app_secret or ""
        )
    except BadSignature:
        return JSONResponse({"detail": "tanda tangan X-Hub-Signature-256 salah"}, 403)
    except BadEvent as exc:
        return JSONResponse({"detail": f"peristiwa WhatsApp tidak terbaca: {exc}"}, 400)
    service = getattr(request.app.state, "whatsapp", None)
    if service is None:
        return JSONResponse({"detail": "WhatsApp belum diatur"}, 503)
    try:
        await service.receive(events)
    except NotStored:  # Meta redelivers anything but a 2xx
        return JSONResponse({"detail": "peristiwa belum tersimpan"}, 503)
    return Response(status_code=200)
