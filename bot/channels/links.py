"""Tracked "open the post" links for the message buttons (``GET /r/<code>`` on Gaung).

Built once when the channels are (the key comes from the database, shared by every process),
then a pure function per message: no database work on the send path.
"""

from __future__ import annotations

from dataclasses import dataclass

from db.delivery.opens import open_code, open_key
from db.engine import make_engine, session_scope
from db.settings import Settings


@dataclass(frozen=True)
class OpenLinks:
    public_url: str
    key: bytes

    def url(self, delivery_id: int) -> str:
        return f"{self.public_url}/r/{open_code(self.key, delivery_id)}"


def open_links_for(settings: Settings) -> OpenLinks | None:
    """Tracked links when ``GAUNG_PUBLIC_URL`` says where Gaung answers; else None, and the
    buttons open the post's own URL (nothing is measured, nothing breaks)."""
    if not settings.public_url:
        return None
    engine = make_engine(settings.database_url)
    try:
        with session_scope(engine) as session:
            key = open_key(session)
    finally:
        engine.dispose()
    return OpenLinks(settings.public_url, key)
