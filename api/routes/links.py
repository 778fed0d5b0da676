"""``GET /r/{code}``: a delivery's tracked "open the post" link.

Records the delivery's first open (the measured counterpart of the self-reported like/share)
and redirects to the post's own URL, never anywhere else: the destination comes from the post
row, not from the request. A code that names no delivery gets a plain 404 page, the same for a
malformed, forged or stale code, so a probe learns nothing.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy import Engine

from api.deps import get_engine
from db.delivery.opens import record_open
from db.engine import session_scope

router = APIRouter(tags=["tautan"])

# The code must not travel on to the platform, and no cache may answer for Gaung.
HEADERS = {
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",
    "X-Robots-Tag": "noindex, nofollow",
}
NOT_FOUND = """<!doctype html>
<html lang="id"><head><meta charset="utf-8"><title>Tautan tidak dikenal</title></head>
<body><h1>Tautan tidak dikenal</h1>
<p>Tautan ini tidak dikenal oleh Gaung. Buka postingan dari pesan Gaung di Telegram atau
WhatsApp Anda.</p></body></html>
"""


@router.get(
    "/r/{code}",
    summary="Tautan pelacak: catat pembukaan pertama, lalu alihkan ke postingan",
    status_code=302,
    response_class=RedirectResponse,
    responses={404: {"content": {"text/html": {}}, "description": "kode tidak dikenal"}},
)
def open_link(code: str, engine: Annotated[Engine, Depends(get_engine)]) -> Response:
    # A GET that writes: its own short transaction (see api.deps).
    with session_scope(engine) as session:
        opened = record_open(session, code)
    if opened is None:
        return HTMLResponse(NOT_FOUND, status_code=404, headers=HEADERS)
    return RedirectResponse(opened.post_url, status_code=302, headers=HEADERS)
