"""Instagram and Facebook sources, read only through Meta's official Graph API.

Never scraping: a source of these kinds exists only when the regency has connected a token
(``GAUNG_META_GRAPH_TOKEN``). Facebook: the page's ``/posts`` edge. Instagram: *business
discovery* on the regency's own Instagram business account (``GAUNG_META_IG_USER_ID``), the
documented way to read another business account's public media by username. The Graph API has
no conditional requests, so politeness is the poll interval and the back-off on errors (Meta's
rate-limit errors included). The token travels in the Authorization header, never in a URL
that could end up in a log or an error message.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx

from db.models import SourceKind
from db.posts.sources import DueSource, FeedEntry, PollResult
from db.settings import Settings

GRAPH_VERSION = "v21.0"
LIMIT = 25
IG_FIELDS = "id,caption,permalink,timestamp"
FB_FIELDS = "id,message,permalink_url,created_time"


@dataclass(frozen=True)
class GraphConfig:
    api_url: str
    token: str
    ig_user_id: str | None = None

    @classmethod
    def from_settings(cls, settings: Settings) -> GraphConfig | None:
        if not settings.meta_graph_token:
            return None
        return cls(settings.meta_graph_api_url, settings.meta_graph_token, settings.meta_ig_user_id)


def account_of(url: str) -> str | None:
    """The page or username a profile address names: ``facebook.com/<page>``,
    ``facebook.com/profile.php?id=<n>``, ``instagram.com/<username>``."""
    parts = urlsplit(url)
    segments = [s for s in parts.path.split("/") if s]
    if segments and segments[0] == "profile.php":
        ids = parse_qs(parts.query).get("id")
        return ids[0] if ids else None
    return segments[0] if segments else None


def request_for(source: DueSource, config: GraphConfig) -> tuple[str, dict[str, str]] | str:
    """The Graph API path and query for a source, or why it cannot be asked."""
    account = account_of(source.url)
    if not account:
        return "alamat akun tidak menyebut nama halaman/akun"
    base = f"{config.api_url}/{GRAPH_VERSION}"
    if source.kind == SourceKind.FACEBOOK:
        return f"{base}/{account}/posts", {"fields": FB_FIELDS, "limit": str(LIMIT)}
    if not config.ig_user_id:
        return "GAUNG_META_IG_USER_ID (akun bisnis Instagram kabupaten) belum diatur"
    fields = f"business_discovery.username({account}){{media.limit({LIMIT}){{{IG_FIELDS}}}}}"
    return f"{base}/{config.ig_user_id}", {"fields": fields}


def parse_graph(kind: str, body: Any) -> list[FeedEntry]:
    """Entries from a Graph API answer, newest first as Meta lists them."""
    if kind == SourceKind.FACEBOOK:
        items = body.get("data") or []
        text_field, link_field, time_field = "message", "permalink_url", "created_time"
    else:
        media = (body.get("business_discovery") or {}).get("media") or {}
        items = media.get("data") or []
        text_field, link_field, time_field = "caption", "permalink", "timestamp"
    entries = []
    for item in items:
        if not isinstance(item, dict) or not item.get("id"):
            continue
        text = " ".join(str(item.get(text_field) or "").split()) or None
        entries.append(
            FeedEntry(
                key=f"{kind}:{item['id']}",
                url=item.get(link_field) or None,
                title=text,
                published=_graph_time(item.get(time_field)),
            )
        )
    return entries


def _graph_time(value: Any) -> datetime | None:
    """Graph times look like ``2026-12-01T03:00:00+0000``."""
    if not isinstance(value, str):
        return None
    try:
        return datetime.strptime(value, "%Y-%m-%dT%H:%M:%S%z")
    except ValueError:
        return None


async def fetch_graph(
    client: httpx.AsyncClient, source: DueSource, config: GraphConfig
) -> PollResult:
    request = request_for(source, config)
    if isinstance(request, str):
        return PollResult(error=request)
    url, params = request
    headers = {"Authorization": f"Bearer {config.token}"}
    try:
        response = await client.get(url, params=params, headers=headers)
    except httpx.HTTPError as exc:
        return PollResult(error=f"{type(exc).__name__}")
    try:
        body = response.json()
    except json.JSONDecodeError:
        body = None
    if not isinstance(body, dict):
        return PollResult(error=f"Graph API HTTP {response.status_code}: bukan JSON")
    if response.status_code != 200 or "error" in body:
        error = body.get("error") or {}
        code = error.get("code", response.status_code) if isinstance(error, dict) else "?"
        message = error.get("message", "") if isinstance(error, dict) else ""
        return PollResult(error=f"Graph API {code}: {message}"[:500])
    return PollResult(entries=parse_graph(source.kind, body))
