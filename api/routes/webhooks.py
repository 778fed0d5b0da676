"""Inbound webhooks. Secrets are compared in constant time; a bad one gets 403 and nothing else."""

from __future__ import annotations

import hmac
import json

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse

from api.deps import SettingsDep
from api.schemas import problems
from bot.inbox import NotStored

router = APIRouter(tags=["webhook"], include_in_schema=True, responses=problems(400, 403, 413, 503))


@router.post("/webhook/telegram", summary="Pembaruan dari Telegram (dengan secret token)")
async def telegram_webhook(request: Request, settings: SettingsDep) -> Response:
    secret = settings.telegram_webhook_secret
    given = request.headers.get("X-Telegram-Bot-Api-Secret-Token")
    if not secret or given is None or not hmac.compare_digest(given.encode(), secret.encode()):
        return JSONResponse({"detail": "secret token salah"}, 403)
    service = getattr(request.app.state, "telegram", None)
    if service is None:
        return JSONResponse({"detail": "bot Telegram tidak berjalan di server ini"}, 503)
    try:
        payload = json.loads(await request.body())
    except (json.JSONDecodeError, UnicodeDecodeError, RecursionError):
        return Response(
            '{"detail": "badan permintaan bukan JSON"}', 400, media_type="application/json"
        )
    if not isinstance(payload, dict) or not isinstance(payload.get("update_id"), int):
        return Response('{"detail": "update_id tidak ada"}', 400, media_type="application/json")
    try:
        answer = await service.receive(payload)
    except NotStored:  # Telegram retries anything but a 2xx
        return Response(
            '{"detail": "pembaruan belum tersimpan"}', 503, media_type="application/json"
        )
    if answer is None:
        return Response(status_code=200)
    return JSONResponse(answer)
