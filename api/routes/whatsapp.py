"""Meta's webhook for the WhatsApp number: the verification handshake and signed events.

The signature is checked over the exact bytes before anything else, on every POST: an
unsigned or badly signed request gets 403 and is recorded nowhere. Events are stored in the
inbox before the 200 (Meta retries anything else); handling continues after it. Under load the
POST is answered by ``api.routes.webhooks.Webhooks`` ahead of FastAPI, through the same
``answer_whatsapp`` as the route below.
"""

from __future__ import annotations

import json
from typing import Any

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
WHATSAPP_PATH = "/webhook/whatsapp"


def _detail(text: str) -> bytes:
    return json.dumps({"detail": text}, ensure_ascii=False, separators=(",", ":")).encode()


async def answer_whatsapp(state: Any, given: str | None, body: bytes) -> tuple[int, bytes]:
    """The webhook's answer to one POST from Meta: (status, JSON body or b"").

    ``state`` is the application's state (settings, the running WhatsApp service); ``given``
    the ``X-Hub-Signature-256`` header, checked over ``body`` before anything reads it."""
    try:
        events = verified_events(body, given, state.settings.whatsapp_app_secret or "")
    except BadSignature:
        return 403, _detail("tanda tangan X-Hub-Signature-256 salah")
    except BadEvent as exc:
        return 400, _detail(f"peristiwa WhatsApp tidak terbaca: {exc}")
    service = getattr(state, "whatsapp", None)
    if service is None:
        return 503, _detail("WhatsApp belum diatur")
    try:
        await service.receive(events)
    except NotStored:  # Meta redelivers anything but a 2xx
        return 503, _detail("peristiwa belum tersimpan")
    return 200, b""


@router.get(WHATSAPP_PATH, summary="Verifikasi webhook WhatsApp (hub.challenge)")
async def whatsapp_verify(request: Request, settings: SettingsDep) -> Response:
    challenge = verify_challenge(request.query_params, settings.whatsapp_verify_token or "")
    if challenge is None:
        return JSONResponse({"detail": "verify token salah"}, 403)
    return PlainTextResponse(challenge)


@router.post(WHATSAPP_PATH, summary="Peristiwa dari WhatsApp (bertanda X-Hub-Signature-256)")
async def whatsapp_webhook(request: Request, settings: SettingsDep) -> Response:
    del settings  # read from the application's state by ``answer_whatsapp``, as the wrapper does
    status, body = await answer_whatsapp(
        request.app.state, request.headers.get(SIGNATURE_HEADER), await request.body()
    )
    return Response(body, status, media_type="application/json" if body else None)
