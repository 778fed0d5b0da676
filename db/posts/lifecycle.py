"""Posts: an OPD's public link, from submission through approval to broadcast.

Lifecycle ``submitted → approved → sending → sent``, or ``rejected`` / ``cancelled``. Every
transition is checked here, once, for the CLI, the bot and the API alike.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from urllib.parse import urlsplit

from sqlmodel import Session, col, select

from db.accounts.audit import record
from db.delivery.outbox import materialise_deliveries
from db.errors import Conflict, Invalid, get_or_missing
from db.models import Admin, Opd, Platform, Post, PostStatus, PostTarget
from db.roster.opd import opd_by_kode
from db.types import utcnow

MAX_URL = 2048
MAX_CAPTION = 1000
_PLATFORM_HOSTS: dict[Platform, tuple[str, ...]] = {
    Platform.INSTAGRAM: ("instagram.com", "instagr.am"),
    Platform.FACEBOOK: ("facebook.com", "fb.com", "fb.watch", "fb.me"),
    Platform.TIKTOK: ("tiktok.com",),
    Platform.X: ("x.com", "twitter.com", "t.co"),
    Platform.YOUTUBE: ("youtube.com", "youtu.be"),
}
OPEN_STATUSES = (PostStatus.SUBMITTED, PostStatus.APPROVED, PostStatus.SENDING, PostStatus.SENT)


def check_url(url: str) -> str:
    """A public http(s) link with a host; anything else is refused with the reason."""
    url = url.strip()
    if not url:
        raise Invalid("tautan kosong")
    if len(url) > MAX_URL:
        raise Invalid(f"tautan lebih dari {MAX_URL} karakter")
    if any(ch.isspace() for ch in url):
        raise Invalid("tautan tidak boleh mengandung spasi")
    parts = urlsplit(url)
    if parts.scheme.lower() not in ("http", "https"):
        raise Invalid("tautan harus diawali http:// atau https://")
    host = (parts.hostname or "").lower()
    if "." not in host or host.startswith(".") or host.endswith("."):
        raise Invalid("tautan tidak memiliki nama situs yang benar")
    return url


def detect_platform(url: str) -> Platform:
    host = (urlsplit(url).hostname or "").lower()
    for platform, hosts in _PLATFORM_HOSTS.items():
        if any(host == h or host.endswith("." + h) for h in hosts):
            return platform
    return Platform.WEB


def check_caption(caption: str | None) -> str | None:
    caption = (caption or "").strip() or None
    if caption is not None and len(caption) > MAX_CAPTION:
        raise Invalid(f"keterangan lebih dari {MAX_CAPTION} karakter ({len(caption)})")
    return caption


def get_post(session: Session, post_id: int, *, lock: bool = False) -> Post:
    return get_or_missing(session, Post, post_id, "postingan", lock=lock)


def submit_post(
    session: Session,
    *,
    opd_kode: str,
    url: str,
    caption: str | None = None,
    submitted_by: Admin | None = None,
    actor: str = "cli",
) -> Post:
    opd = opd_by_kode(session, opd_kode)
    url = check_url(url)
    caption = check_caption(caption)
    duplicate = session.exec(
        select(Post).where(Post.url == url, col(Post.status).in_(OPEN_STATUSES))
    ).first()
    if duplicate is not None:
        raise Conflict(f"tautan ini sudah diajukan sebagai postingan #{duplicate.id}")
    post = Post(
        opd_id=opd.id,  # type: ignore[arg-type]
        url=url,
        platform=detect_platform(url),
        caption=caption,
        submitted_by=submitted_by.id if submitted_by else None,
    )
    session.add(post)
    session.flush()
    record(session, actor, "post.submit", f"post:{post.id}", opd=opd.kode, url=url)
    return post


def approve_post(
    session: Session,
    post_id: int,
    *,
    approved_by: Admin | None = None,
    targets: Sequence[str] | None = None,
    send_at: datetime | None = None,
    actor: str = "cli",
    now: datetime | None = None,
    preferred_channel: str | None = None,
) -> tuple[Post, int]:
    """Approve and queue the broadcast. Returns the post and the number of deliveries queued.

    ``targets`` (OPD codes) limits the broadcast; ``None`` sends to every OPD.
    ``preferred_channel``: the deployment's channel for ASN reachable on both.
    """
    post = get_post(session, post_id, lock=True)
    if post.status != PostStatus.SUBMITTED:
        raise Conflict(f"postingan #{post_id} berstatus {post.status}, tidak bisa disetujui")
    if send_at is not None and send_at.tzinfo is None:
        raise Invalid("waktu kirim harus menyebut zona waktu")
    target_opds: list[Opd] = [opd_by_kode(session, k) for k in dict.fromkeys(targets or [])]
    now = now or utcnow()
    post.status = PostStatus.APPROVED
    post.approved_at = now
    post.approved_by = approved_by.id if approved_by else None
    post.send_at = send_at
    post.target_all = not target_opds
    session.add(post)
    for opd in target_opds:
        session.add(PostTarget(post_id=post_id, opd_id=opd.id))  # type: ignore[arg-type]
    session.flush()
    target_ids = [o.id for o in target_opds if o.id is not None]
    queued = materialise_deliveries(
        session, post, target_ids or None, due=send_at or now, now=now, preferred=preferred_channel
    )
    record(
        session,
        actor,
        "post.approve",
        f"post:{post_id}",
        targets=[o.kode for o in target_opds] or "semua",
        send_at=send_at,
        queued=queued,
    )
    return post, queued


def reject_post(session: Session, post_id: int, *, reason: str, actor: str = "cli") -> Post:
    reason = reason.strip()
    if not reason:
        raise Invalid("alasan penolakan wajib diisi")
    post = get_post(session, post_id, lock=True)
    if post.status != PostStatus.SUBMITTED:
        raise Conflict(f"postingan #{post_id} berstatus {post.status}, tidak bisa ditolak")
    post.status, post.reason, post.closed_at = PostStatus.REJECTED, reason[:500], utcnow()
    session.add(post)
    session.flush()
    record(session, actor, "post.reject", f"post:{post_id}", reason=reason)
    return post


def cancel_post(session: Session, post_id: int, *, actor: str = "cli") -> Post:
    """Stop a post: nothing more is sent; what was sent and confirmed stays counted."""
    from db.delivery.outbox import cancel_pending

    post = get_post(session, post_id, lock=True)
    if post.status in (PostStatus.REJECTED, PostStatus.CANCELLED, PostStatus.SENT):
        raise Conflict(f"postingan #{post_id} berstatus {post.status}, tidak bisa dibatalkan")
    if post.status == PostStatus.SUBMITTED:
        # Nothing is queued yet: declining a submission is a rejection, with its reason told
        # to the OPD (and a cancelled post must carry an approval time).
        raise Conflict(f"postingan #{post_id} belum disetujui; tolak dengan alasan, bukan batalkan")
    post.status, post.closed_at = PostStatus.CANCELLED, utcnow()
    session.add(post)
    session.flush()
    stopped = cancel_pending(session, post_id)
    record(session, actor, "post.cancel", f"post:{post_id}", stopped=stopped)
    return post
