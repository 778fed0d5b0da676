"""The regency's official accounts (an allow-list), and which account a post's link is from.

A link names its account in different ways per platform (``instagram.com/<handle>/...``,
``tiktok.com/@<handle>/video/...``, ``x.com/<handle>/status/...``, a web page's domain). Many
links name none (Instagram ``/p/<code>``, ``youtu.be/<id>``, ``fb.watch``): for those Gaung
says "the account cannot be determined" rather than letting the link pass, because a pass on
a link from anyone would make the allow-list worthless. Web entries are domains and cover
their subdomains (``mojokertokab.go.id`` covers ``dinkes.mojokertokab.go.id``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from urllib.parse import parse_qs, urlsplit

from sqlmodel import Session, col, select

from db.accounts.audit import record, remove_recorded
from db.errors import Conflict, Invalid, get_or_missing
from db.models import FeedItem, FeedSource, OfficialAccount, Opd, Platform, SourceKind
from db.posts.lifecycle import detect_platform
from db.roster.opd import opd_by_kode

# First path segments that are a platform's own pages, never an account.
_RESERVED: dict[Platform, frozenset[str]] = {
    Platform.INSTAGRAM: frozenset(
        {"p", "reel", "reels", "tv", "explore", "accounts", "share", "s", "direct"}
    ),
    Platform.FACEBOOK: frozenset(
        {
            "watch",
            "share",
            "sharer",
            "sharer.php",
            "photo",
            "photo.php",
            "photos",
            "groups",
            "events",
            "reel",
            "video.php",
            "plugins",
            "l.php",
            "media",
            "hashtag",
            "pages",
            "login",
            "stories",
        }
    ),
    Platform.X: frozenset(
        {"i", "intent", "home", "search", "hashtag", "share", "explore", "messages", "settings"}
    ),
    Platform.YOUTUBE: frozenset(
        {"watch", "shorts", "live", "embed", "playlist", "results", "feed", "redirect"}
    ),
}
_NO_ACCOUNT_HOSTS = ("youtu.be", "fb.watch", "fb.me", "t.co", "instagr.am")
_ID_PAGES = ("profile.php", "permalink.php", "story.php")  # facebook: the account is ?id=N


@dataclass(frozen=True)
class LinkAccount:
    """The account a link is from: ``handle`` None when the link does not say."""

    platform: Platform
    handle: str | None

    def label(self) -> str:
        if self.platform == Platform.WEB:
            return self.handle or "-"
        return f"{self.platform} @{self.handle}" if self.handle else str(self.platform)


def normalise(platform: Platform, handle: str) -> str:
    """One spelling per account: lower case, without ``@``, a leading ``www.`` or slashes."""
    handle = handle.strip().strip("/").lower().removeprefix("@")
    if platform == Platform.WEB:
        handle = handle.split("/")[0].removeprefix("www.")
    return handle


def account_of(url: str) -> LinkAccount:
    """The account ``url`` is from, read from the link alone (no network)."""
    platform = detect_platform(url)
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    if platform == Platform.WEB:
        return LinkAccount(platform, normalise(platform, host) or None)
    if any(host == h or host.endswith("." + h) for h in _NO_ACCOUNT_HOSTS):
        return LinkAccount(platform, None)
    segments = [s for s in parts.path.split("/") if s]
    first = segments[0].lower() if segments else ""
    handle: str | None = None
    if platform == Platform.TIKTOK:
        handle = first if first.startswith("@") else None
    elif platform == Platform.YOUTUBE:
        if first.startswith("@"):
            handle = first
        elif first in ("channel", "c", "user") and len(segments) > 1:
            handle = segments[1]
    elif platform == Platform.FACEBOOK and first in _ID_PAGES:
        handle = next(iter(parse_qs(parts.query).get("id", [])), None)
    elif platform == Platform.INSTAGRAM and first == "stories" and len(segments) > 1:
        handle = segments[1]
    elif first and first not in _RESERVED.get(platform, frozenset()):
        handle = first
    return LinkAccount(platform, normalise(platform, handle) if handle else None)


def _platform(value: str) -> Platform:
    try:
        return Platform(value.strip().lower())
    except ValueError:
        names = ", ".join(p.value for p in Platform)
        raise Invalid(f"platform {value!r} tidak dikenal (pilih: {names})") from None


def add_account(
    session: Session, *, platform: str, handle: str, opd_kode: str | None, actor: str = "cli"
) -> OfficialAccount:
    """Add an account to the allow-list (``opd_kode`` None: an account of the regency itself)."""
    kind = _platform(platform)
    if "://" in handle:  # a link to the account: read the account from it
        found = account_of(handle.strip())
        if found.platform != kind or found.handle is None:
            raise Invalid(f"tautan {handle.strip()!r} tidak menunjuk akun {kind} tertentu")
        handle = found.handle
    name = normalise(kind, handle)
    if not name or any(ch.isspace() for ch in name):
        raise Invalid("akun atau domain kosong atau berisi spasi")
    if kind == Platform.WEB and "." not in name:
        raise Invalid(f"domain {name!r} tidak benar (contoh: mojokertokab.go.id)")
    opd = opd_by_kode(session, opd_kode) if opd_kode else None
    existing = session.exec(
        select(OfficialAccount).where(
            OfficialAccount.platform == kind, OfficialAccount.handle == name
        )
    ).first()
    if existing is not None:
        raise Conflict(f"akun {LinkAccount(kind, name).label()} sudah terdaftar (#{existing.id})")
    account = OfficialAccount(opd_id=opd.id if opd else None, platform=kind, handle=name)
    session.add(account)
    session.flush()
    record(
        session,
        actor,
        "official_account.add",
        f"official_account:{account.id}",
        platform=kind.value,
        handle=name,
        opd=opd.kode if opd else None,
    )
    return account


def remove_account(session: Session, account_id: int, *, actor: str = "cli") -> OfficialAccount:
    account = get_or_missing(session, OfficialAccount, account_id, "akun resmi")
    return remove_recorded(
        session, account, "official_account", actor=actor, keep=("platform", "handle")
    )


@dataclass(frozen=True)
class AccountRow:
    id: int
    opd: str | None  # its kode; None: the regency's own account
    platform: str
    handle: str

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


def list_accounts(session: Session, *, opd_kode: str | None = None) -> list[AccountRow]:
    query = (
        select(OfficialAccount, Opd.kode)
        .join(Opd, col(Opd.id) == OfficialAccount.opd_id, isouter=True)
        .order_by(col(OfficialAccount.platform), col(OfficialAccount.handle))
    )
    if opd_kode:
        query = query.where(OfficialAccount.opd_id == opd_by_kode(session, opd_kode).id)
    return [
        AccountRow(a.id or 0, kode, a.platform, a.handle) for a, kode in session.exec(query).all()
    ]


def seed_from_sources(session: Session, *, actor: str = "cli") -> list[OfficialAccount]:
    """Add the accounts the OPDs' registered sources already name: a website feed's domain, a
    YouTube feed's channel id, an Instagram/Facebook source's handle where its link has one.
    Accounts already listed are left alone, so running it again adds only what is new."""
    added: list[OfficialAccount] = []
    seen: set[tuple[str, str]] = {
        (a.platform, a.handle) for a in session.exec(select(OfficialAccount)).all()
    }
    for source in session.exec(select(FeedSource).order_by(col(FeedSource.id))).all():
        found = _source_account(source)
        if found is None or found.handle is None or (found.platform, found.handle) in seen:
            continue
        seen.add((found.platform, found.handle))
        opd = session.get(Opd, source.opd_id)
        added.append(
            add_account(
                session,
                platform=found.platform,
                handle=found.handle,
                opd_kode=opd.kode if opd else None,
                actor=actor,
            )
        )
    return added


def _source_account(source: FeedSource) -> LinkAccount | None:
    if source.kind == SourceKind.YOUTUBE:
        channel = next(iter(parse_qs(urlsplit(source.url).query).get("channel_id", [])), None)
        if channel:
            return LinkAccount(Platform.YOUTUBE, normalise(Platform.YOUTUBE, channel))
        return account_of(source.url)
    if source.kind == SourceKind.RSS:
        host = urlsplit(source.url).hostname or ""
        return LinkAccount(Platform.WEB, normalise(Platform.WEB, host)) if host else None
    return account_of(source.url)


def from_registered_source(session: Session, post_id: int) -> bool:
    """The post was found in one of the OPDs' registered sources: official by construction."""
    return session.exec(select(FeedItem.id).where(FeedItem.post_id == post_id)).first() is not None


def is_listed(session: Session, account: LinkAccount) -> bool:
    """Whether the account is on the allow-list (a web host: its domain or a parent domain)."""
    if account.handle is None:
        return False
    names: Sequence[str] = [account.handle]
    if account.platform == Platform.WEB:
        labels = account.handle.split(".")
        names = [".".join(labels[i:]) for i in range(len(labels) - 1)]
    found = session.exec(
        select(OfficialAccount.id).where(
            OfficialAccount.platform == account.platform, col(OfficialAccount.handle).in_(names)
        )
    ).first()
    return found is not None
