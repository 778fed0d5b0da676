"""Neutrality guards at approval: ASN must stay politically neutral (UU ASN; SE MenPANRB
137/2018), so nothing reaches them without Diskominfo confirming the post carries no candidate,
party or campaign content.

- Every approval (chat, API, CLI) carries that confirmation, recorded with who and when in
  ``post_approval`` and in the audit log. ``approve`` here is the one door the three use;
  ``lifecycle.approve_post`` is the queueing step behind it.
- Warnings, shown at review and in ``GET /api/v1/posts/{id}``: configured keywords in the
  caption, the link or the feed title; a link from an account outside the allow-list, or one
  whose account the link does not name (once the allow-list has any account: an empty list
  means the check is not set up, not that every link is suspect). They never block
  submission; the approver decides.
- In a configured campaign period a post needs two different approvers: the first approval is
  recorded and the post stays ``submitted`` ("menunggu persetujuan kedua"); the second queues.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from functools import cached_property
from urllib.parse import unquote_plus
from zoneinfo import ZoneInfo

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from db.accounts.audit import record
from db.errors import Conflict, GaungError, Invalid
from db.models import Admin, FeedItem, OfficialAccount, Post, PostApproval, PostStatus
from db.posts.lifecycle import approve_post, get_post
from db.posts.official import account_of, from_registered_source, is_listed
from db.settings import DEFAULT_GUARD_KEYWORDS
from db.settings import Settings as DeploymentSettings
from db.types import utcnow

STATEMENT = (
    "Unggahan ini tidak memuat calon, partai politik, atau kampanye "
    "(netralitas ASN: UU ASN, SE MenPANRB 137/2018)."
)
NEEDS_TICK = (
    "persetujuan memerlukan konfirmasi netralitas: unggahan tidak memuat calon, partai, atau "
    'kampanye (kirim "neutral": true)'
)
WAITING = "menunggu persetujuan kedua"
WIB = ZoneInfo("Asia/Jakarta")


def split_keywords(*values: str) -> tuple[str, ...]:
    """Comma-separated settings → distinct keywords, in order, blanks dropped."""
    words = (w.strip() for value in values for w in value.split(","))
    return tuple(dict.fromkeys(w for w in words if w))


@dataclass(frozen=True)
class GuardRules:
    """What the guards check, from the deployment's settings (defaults: the built-in keywords,
    no campaign period)."""

    keywords: tuple[str, ...] = split_keywords(DEFAULT_GUARD_KEYWORDS)
    campaign_start: date | None = None
    campaign_end: date | None = None  # included
    tz: ZoneInfo = WIB

    @classmethod
    def of(cls, settings: DeploymentSettings) -> GuardRules:
        return cls(
            keywords=split_keywords(settings.guard_keywords, settings.guard_extra_keywords),
            campaign_start=settings.campaign_start,
            campaign_end=settings.campaign_end,
            tz=settings.tz,
        )

    def in_campaign(self, at: datetime) -> bool:
        if self.campaign_start is None or self.campaign_end is None:
            return False
        return self.campaign_start <= at.astimezone(self.tz).date() <= self.campaign_end

    def needed(self, at: datetime) -> int:
        """How many different approvers a post approved at ``at`` needs."""
        return 2 if self.in_campaign(at) else 1

    @cached_property
    def _patterns(self) -> list[tuple[str, re.Pattern[str]]]:
        # A keyword matches as whole words: not inside a longer word ("pan" in "panen"), with
        # any run of spaces, dashes, underscores, dots or pluses between its words, so that
        # "nomor urut" also matches a URL's "nomor-urut".
        out = []
        for word in self.keywords:
            body = r"[\s\-_+.]+".join(re.escape(part) for part in word.split())
            out.append((word, re.compile(rf"(?<![^\W_]){body}(?![^\W_])", re.IGNORECASE)))
        return out

    def keyword_hits(self, *texts: str | None) -> list[str]:
        joined = "\n".join(t for t in texts if t)
        return [word for word, pattern in self._patterns if pattern.search(joined)]


@dataclass(frozen=True)
class GuardWarning:
    """One thing the approver should look at. ``kind``: ``keyword`` (``detail``: the words
    found), ``account_off_list`` (the account) or ``account_unknown`` (the platform)."""

    kind: str
    detail: str

    @property
    def message(self) -> str:
        if self.kind == "keyword":
            return f"memuat kata terkait politik/kampanye: {self.detail}"
        if self.kind == "account_off_list":
            return f"akun {self.detail} tidak ada di daftar akun resmi"
        return f"akun tidak dapat dipastikan dari tautan {self.detail}"

    def as_dict(self) -> dict[str, str]:
        return {"kind": self.kind, "detail": self.detail, "message": self.message}


def post_warnings(session: Session, post: Post, rules: GuardRules) -> list[GuardWarning]:
    """What the approver is warned about, computed now (keywords and the allow-list can change
    while a post waits)."""
    found: list[GuardWarning] = []
    titles = session.exec(select(FeedItem.title).where(FeedItem.post_id == post.id)).all()
    hits = rules.keyword_hits(post.caption, unquote_plus(post.url), *titles)
    if hits:
        found.append(GuardWarning("keyword", ", ".join(hits)))
    if session.exec(select(OfficialAccount.id).limit(1)).first() is None:
        return found  # no allow-list yet: the account check is not set up (docs/operations.md)
    if post.id is not None and from_registered_source(session, post.id):
        return found  # found in the OPD's registered source: the account is official
    account = account_of(post.url)
    if account.handle is None:
        found.append(GuardWarning("account_unknown", account.label()))
    elif not is_listed(session, account):
        found.append(GuardWarning("account_off_list", account.label()))
    return found


@dataclass(frozen=True)
class ApprovalRow:
    approver: str
    approved_at: datetime
    warnings: list[str] = field(default_factory=list)


def approvals_of(session: Session, post_id: int) -> list[ApprovalRow]:
    rows = session.exec(
        select(PostApproval)
        .where(PostApproval.post_id == post_id)
        .order_by(col(PostApproval.approved_at), col(PostApproval.id))
    ).all()
    return [
        ApprovalRow(r.approver, r.approved_at, json.loads(r.warnings) if r.warnings else [])
        for r in rows
    ]


@dataclass(frozen=True)
class Approval:
    """The result of one approver's approval: queued (``queued`` a count) or waiting for the
    second approver (``queued`` None)."""

    post: Post
    queued: int | None
    approvals: int
    needed: int
    warnings: list[GuardWarning]

    @property
    def waiting(self) -> bool:
        return self.queued is None


def approve(
    session: Session,
    post_id: int,
    *,
    approver: str,
    neutral: bool,
    rules: GuardRules,
    admin: Admin | None = None,
    targets: Sequence[str] | None = None,
    send_at: datetime | None = None,
    now: datetime | None = None,
    preferred_channel: str | None = None,
) -> Approval:
    """One approver confirms neutrality and approves; the post is queued once enough different
    approvers have (one, two in a campaign period). ``approver`` names who, for the record and
    for "different": ``admin:<id>``, ``apikey:<id>`` or ``cli:<login>``.

    In a campaign period the last approver's ``targets``/``send_at`` are the ones that apply
    (each approval's choice is in the audit log)."""
    if not neutral:
        raise Invalid(NEEDS_TICK)
    now = now or utcnow()
    post = get_post(session, post_id)
    session.refresh(post, with_for_update=True)  # approvals of one post are taken in turn
    if post.status != PostStatus.SUBMITTED:
        raise Conflict(f"postingan #{post_id} berstatus {post.status}, tidak bisa disetujui")
    warnings = post_warnings(session, post, rules)
    needed = rules.needed(now)
    earlier = approvals_of(session, post_id)
    if any(a.approver == approver for a in earlier):
        if len(earlier) < needed:
            raise Conflict(
                f"postingan #{post_id} sudah Anda setujui; masa kampanye memerlukan persetujuan "
                "kedua dari admin Diskominfo lain"
            )
        count = len(earlier)  # the campaign period ended while it waited: queue it now
    else:
        shown = [w.message for w in warnings]
        row = PostApproval(
            post_id=post_id,
            approver=approver,
            admin_id=admin.id if admin else None,
            neutral=True,
            warnings=json.dumps(shown, ensure_ascii=False) if shown else None,
            approved_at=now,
        )
        try:
            with session.begin_nested():
                session.add(row)
                session.flush()
        except IntegrityError:
            raise Conflict(f"postingan #{post_id} sudah Anda setujui") from None
        count = len(earlier) + 1
        record(
            session,
            approver,
            "post.neutral",
            f"post:{post_id}",
            statement=STATEMENT,
            warnings=shown,
            approval=count,
            needed=needed,
            targets=list(targets) if targets else "semua",
            send_at=send_at,
        )
    if count < needed:
        return Approval(post, None, count, needed, warnings)
    post, queued = approve_post(
        session,
        post_id,
        approved_by=admin,
        targets=targets,
        send_at=send_at,
        actor=approver,
        now=now,
        preferred_channel=preferred_channel,
    )
    return Approval(post, queued, count, needed, warnings)


class GuardFired(GaungError):
    """The CLI operator approved a post that a guard flags, without saying they checked it."""

    status_code = 409


def approve_as_operator(
    session: Session,
    post_id: int,
    *,
    approver: str,
    checked: bool,
    rules: GuardRules,
    now: datetime | None = None,
    preferred_channel: str | None = None,
) -> Approval:
    """``gaung post approve`` / ``post add --approve``: the operator at the server is Diskominfo,
    and running the command is their neutrality confirmation (recorded as ``approver``) —
    unless a guard fires (a warning, or the campaign period), when it is refused until they
    say they checked (``--netral``). Operators' scripts keep working for ordinary posts."""
    now = now or utcnow()
    post = get_post(session, post_id)
    if not checked and post.status == PostStatus.SUBMITTED:
        reasons = [w.message for w in post_warnings(session, post, rules)]
        if rules.in_campaign(now):
            reasons.append("masa kampanye: perlu dua penyetuju berbeda")
        if reasons:
            raise GuardFired(
                f"postingan #{post_id} tidak disetujui: {'; '.join(reasons)}; periksa "
                "unggahannya lalu ulangi dengan --netral"
            )
    return approve(
        session,
        post_id,
        approver=approver,
        neutral=True,
        rules=rules,
        now=now,
        preferred_channel=preferred_channel,
    )
