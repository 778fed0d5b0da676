"""Gaung's tables. The schema itself forbids the states that must never exist.

One delivery per post × ASN, one confirmation per delivery × kind, unique NIP, phone and chat
identity: enforced by constraints, so a race between two workers or a repeated tap can only
fail loudly, never double-count. Constraint names follow one convention so that Alembic's
batch mode can alter them on SQLite.
"""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from typing import cast

from sqlalchemy import (
    CheckConstraint,
    ForeignKey,
    Index,
    MetaData,
    Table,
    UniqueConstraint,
    text,
)
from sqlmodel import Field, SQLModel

from db.types import BigId, UTCDateTime, utcnow

SQLModel.metadata.naming_convention = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}
metadata: MetaData = SQLModel.metadata


class Role(StrEnum):
    DISKOMINFO = "diskominfo"
    OPD = "opd"


class Channel(StrEnum):
    TELEGRAM = "telegram"
    WHATSAPP = "whatsapp"


class PostStatus(StrEnum):
    SUBMITTED = "submitted"
    APPROVED = "approved"
    SENDING = "sending"
    SENT = "sent"
    REJECTED = "rejected"
    CANCELLED = "cancelled"


class Platform(StrEnum):
    INSTAGRAM = "instagram"
    FACEBOOK = "facebook"
    TIKTOK = "tiktok"
    X = "x"
    YOUTUBE = "youtube"
    WEB = "web"


class DeliveryStatus(StrEnum):
    PENDING = "pending"  # waiting to be claimed (possibly not before next_attempt_at)
    SENDING = "sending"  # claimed by a worker under a lease
    SENT = "sent"  # accepted by the channel
    FAILED = "failed"  # will not be retried; error says why, failure_kind how to treat it
    SKIPPED = "skipped"  # not sent: the person opted out, became unreachable or left the roster


class FailureKind(StrEnum):
    """Why a delivery failed, so that ``gaung broadcast --retry-failed`` knows what to retry."""

    TRANSIENT = "transient"  # the channel kept failing past the delivery's time budget
    REFUSED = "refused"  # the channel refused this message (400)
    UNREACHABLE = "unreachable"  # blocked, deactivated, unknown chat
    CANCELLED = "cancelled"  # the post was cancelled


class ConfirmationKind(StrEnum):
    LIKE = "like"
    SHARE = "share"


def _in(column: str, enum: type[StrEnum]) -> str:
    return f"{column} IN ({', '.join(repr(m.value) for m in enum)})"


def _time(*, nullable: bool = True, index: bool = False) -> datetime | None:
    return Field(  # type: ignore[no-any-return]
        default=None, sa_type=UTCDateTime, nullable=nullable, index=index
    )


def _created() -> datetime:
    return Field(  # type: ignore[no-any-return]
        default_factory=utcnow, sa_type=UTCDateTime, nullable=False
    )


class AsnStatus(StrEnum):
    PNS = "PNS"
    PPPK = "PPPK"


class ConsentEvent(StrEnum):
    GIVEN = "given"  # registered after reading the consent text of ``version``
    OPTED_OUT = "opted_out"  # /berhenti
    RESUMED = "resumed"  # /start after /berhenti
    ERASED = "erased"  # /hapus or ``gaung asn erase``: consent withdrawn, chat data erased


class Opd(SQLModel, table=True):
    __tablename__ = "opd"

    id: int | None = Field(default=None, primary_key=True)
    kode: str = Field(max_length=32, unique=True)
    nama: str = Field(max_length=200)
    jenis: str | None = Field(default=None, max_length=32)
    created_at: datetime = _created()


class Asn(SQLModel, table=True):
    __tablename__ = "asn"
    __table_args__ = (
        CheckConstraint("length(nip) = 18", name="nip_length"),
        CheckConstraint(f"status IS NULL OR {_in('status', AsnStatus)}", name="status"),
        Index("ix_asn_opd_active", "opd_id", "active"),
    )

    id: int | None = Field(default=None, primary_key=True)
    nip: str = Field(max_length=18, unique=True)
    nama: str = Field(max_length=200)
    opd_id: int = Field(foreign_key="opd.id")
    jabatan: str | None = Field(default=None, max_length=200)
    phone: str | None = Field(default=None, max_length=20, unique=True)
    active: bool = True
    status: str | None = Field(default=None, max_length=8)  # PNS or PPPK, when the roster says
    consent_at: datetime | None = _time()
    consent_version: str | None = Field(default=None, max_length=32)
    opted_out_at: datetime | None = _time()
    # Set by erasure (/hapus): the person withdrew; cleared if they register again.
    erased_at: datetime | None = _time()
    # When a full roster import last found them gone; retention counts from here.
    left_at: datetime | None = _time()
    # Overrides the deployment's preferred channel when the ASN is reachable on both.
    preferred_channel: str | None = Field(default=None, max_length=16)
    created_at: datetime = _created()
    updated_at: datetime = _created()


class Consent(SQLModel, table=True):
    """Each consent given or withdrawn, with the version of the text read: the trace an
    erasure leaves on purpose (UU 27/2022 asks the controller to prove consent and its
    withdrawal). Holds no chat identity, only the roster person and the channel."""

    __tablename__ = "consent"
    __table_args__ = (
        CheckConstraint(_in("event", ConsentEvent), name="event"),
        Index("ix_consent_asn", "asn_id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    asn_id: int = Field(sa_column_args=[ForeignKey("asn.id", ondelete="CASCADE")])
    event: str = Field(max_length=16)
    version: str | None = Field(default=None, max_length=32)
    channel: str | None = Field(default=None, max_length=16)
    at: datetime = _created()


class ChatIdentity(SQLModel, table=True):
    """A person's account on one channel. An ASN has at most one per channel."""

    __tablename__ = "chat_identity"
    __table_args__ = (
        UniqueConstraint("channel", "external_id"),
        UniqueConstraint("asn_id", "channel"),
        CheckConstraint(_in("channel", Channel), name="channel"),
    )

    id: int | None = Field(default=None, primary_key=True)
    channel: str = Field(max_length=16)
    external_id: str = Field(max_length=64)  # Telegram user id, WhatsApp wa_id
    chat_id: str | None = Field(default=None, max_length=64)  # where to send
    # WhatsApp's business-scoped user id: the same person when a username hides their wa_id.
    user_id: str | None = Field(default=None, max_length=64, index=True)
    asn_id: int | None = Field(
        default=None, sa_column_args=[ForeignKey("asn.id", ondelete="SET NULL")]
    )
    reachable: bool = True
    unreachable_reason: str | None = Field(default=None, max_length=200)
    unreachable_at: datetime | None = _time()
    last_inbound_at: datetime | None = _time()
    created_at: datetime = _created()


class Admin(SQLModel, table=True):
    """A person who submits or reviews posts. How they are reached is in ``AdminIdentity``:
    an admin is a person with chat accounts, not a Telegram id."""

    __tablename__ = "admin"
    __table_args__ = (
        CheckConstraint(_in("role", Role), name="role"),
        CheckConstraint("role = 'diskominfo' OR opd_id IS NOT NULL", name="opd_admin_has_opd"),
    )

    id: int | None = Field(default=None, primary_key=True)
    role: str = Field(max_length=16)
    opd_id: int | None = Field(default=None, foreign_key="opd.id")
    name: str | None = Field(default=None, max_length=200)
    active: bool = True
    created_at: datetime = _created()


class AdminIdentity(SQLModel, table=True):
    """An admin's account on one channel (a Telegram user id, a WhatsApp number): how Gaung
    recognises them when they write and where it tells them things. One account is one admin;
    an admin has at most one account per channel."""

    __tablename__ = "admin_identity"
    __table_args__ = (
        UniqueConstraint("channel", "external_id"),
        UniqueConstraint("admin_id", "channel"),
        CheckConstraint(_in("channel", Channel), name="channel"),
    )

    id: int | None = Field(default=None, primary_key=True)
    admin_id: int = Field(sa_column_args=[ForeignKey("admin.id", ondelete="CASCADE")])
    channel: str = Field(max_length=16)
    external_id: str = Field(max_length=64)  # Telegram user id, WhatsApp number (digits)
    chat_id: str = Field(max_length=64)  # where to send
    created_at: datetime = _created()
    # When the admin last wrote on this channel: on WhatsApp, whether free-form text still
    # reaches them or only the notice template does (admins who are not ASN have no
    # chat_identity to carry it).
    last_inbound_at: datetime | None = _time()


class ApiKey(SQLModel, table=True):
    """Only a SHA-256 of the key is kept: keys are long random strings, so a slow hash buys
    nothing, and a fast one keeps every API request cheap."""

    __tablename__ = "api_key"
    __table_args__ = (
        CheckConstraint(_in("role", Role), name="role"),
        CheckConstraint("role = 'diskominfo' OR opd_id IS NOT NULL", name="opd_key_has_opd"),
    )

    id: int | None = Field(default=None, primary_key=True)
    name: str | None = Field(default=None, max_length=200)
    role: str = Field(max_length=16)
    opd_id: int | None = Field(default=None, foreign_key="opd.id")
    prefix: str = Field(max_length=16)
    key_hash: str = Field(max_length=64, unique=True)
    created_at: datetime = _created()
    revoked_at: datetime | None = _time()
    last_used_at: datetime | None = _time()


class Post(SQLModel, table=True):
    __tablename__ = "post"
    __table_args__ = (
        CheckConstraint(_in("status", PostStatus), name="status"),
        CheckConstraint(_in("platform", Platform), name="platform"),
        CheckConstraint(
            "status IN ('submitted', 'rejected') OR approved_at IS NOT NULL", name="approved_at"
        ),
        Index("ix_post_approved_at", "approved_at"),
        Index("ix_post_status", "status"),
    )

    id: int | None = Field(default=None, primary_key=True)
    opd_id: int = Field(foreign_key="opd.id", index=True)
    url: str = Field(max_length=2048)
    platform: str = Field(max_length=16)
    caption: str | None = Field(default=None, max_length=1000)
    status: str = Field(default=PostStatus.SUBMITTED, max_length=16)
    target_all: bool = True
    submitted_by: int | None = Field(default=None, foreign_key="admin.id")
    approved_by: int | None = Field(default=None, foreign_key="admin.id")
    submitted_at: datetime = _created()
    approved_at: datetime | None = _time()
    send_at: datetime | None = _time()
    sent_at: datetime | None = _time()
    closed_at: datetime | None = _time()  # rejected or cancelled
    reason: str | None = Field(default=None, max_length=500)
    # Issue 15, clarification first: when Diskominfo marked the post a clarification (its
    # sends go first, its reminder sooner), and when its reach recap was claimed (sent once).
    clarification_at: datetime | None = _time()
    reach_recap_at: datetime | None = _time()


class PostTarget(SQLModel, table=True):
    """The OPDs a post goes to when it is not for everyone."""

    __tablename__ = "post_target"

    post_id: int = Field(
        primary_key=True, sa_column_args=[ForeignKey("post.id", ondelete="CASCADE")]
    )
    opd_id: int = Field(primary_key=True, foreign_key="opd.id")


class Delivery(SQLModel, table=True):
    """One post to one ASN on one channel; also the outbox row the workers send from.

    ``opd_id`` is the ASN's OPD when the post was sent, so that a transfer later does not move
    history between OPDs, and the participation query needs no join to the roster.
    ``asn_id`` is emptied when the person erases their data or the retention period after
    they left ends: the row still counts for its OPD, but no longer says whose it was.
    """

    __tablename__ = "delivery"
    __table_args__ = (
        UniqueConstraint("post_id", "asn_id"),
        CheckConstraint(_in("status", DeliveryStatus), name="status"),
        CheckConstraint(_in("failure_kind", FailureKind), name="failure_kind"),
        CheckConstraint(_in("channel", Channel), name="channel"),
        Index("ix_delivery_post_opd_status", "post_id", "opd_id", "status"),
        Index("ix_delivery_due", "status", "next_attempt_at"),
        Index("ix_delivery_asn", "asn_id"),
        Index("ix_delivery_template_at", "template_at"),
        # Issue 11: the few deliveries Meta billed, so the participation report's billing
        # need not read every delivery of its window (partial: NULL and false stay out).
        Index(
            "ix_delivery_billable",
            "post_id",
            sqlite_where=text("billable IS 1"),
            postgresql_where=text("billable IS true"),
        ),
        # Issues 10 and 12: the reminder claim reads the week's rows still waiting for a
        # reminder in ``sent_at`` order, and counts each ASN's reminders of the week, from
        # these two (partial: the rest of the year's deliveries stay out).
        Index(
            "ix_delivery_remind_due",
            "status",  # constant here: it lets SQLite, with no statistics, prefer this index
            "sent_at",
            "id",
            sqlite_where=text("status = 'sent' AND reminded_at IS NULL"),
            postgresql_where=text("status = 'sent' AND reminded_at IS NULL"),
        ),
        Index(
            "ix_delivery_reminded",
            "asn_id",
            "reminded_at",
            sqlite_where=text("reminded_at IS NOT NULL"),
            postgresql_where=text("reminded_at IS NOT NULL"),
        ),
    )

    id: int | None = Field(default=None, primary_key=True, sa_type=BigId)
    post_id: int = Field(sa_column_args=[ForeignKey("post.id", ondelete="CASCADE")])
    asn_id: int | None = Field(default=None, foreign_key="asn.id")
    opd_id: int = Field(foreign_key="opd.id")
    identity_id: int | None = Field(
        default=None, sa_column_args=[ForeignKey("chat_identity.id", ondelete="SET NULL")]
    )
    channel: str = Field(max_length=16)
    status: str = Field(default=DeliveryStatus.PENDING, max_length=16)
    attempts: int = 0
    next_attempt_at: datetime | None = _time()
    lease_owner: str | None = Field(default=None, max_length=64)
    lease_until: datetime | None = _time()
    message_id: str | None = Field(default=None, max_length=128)
    sent_at: datetime | None = _time()
    failed_at: datetime | None = _time()
    error: str | None = Field(default=None, max_length=500)
    failure_kind: str | None = Field(default=None, max_length=16)
    first_tried_at: datetime | None = _time()  # a transient failure's time budget runs from here
    reminded_at: datetime | None = _time()
    opened_at: datetime | None = _time()  # first open through the tracked link (measured)
    # WhatsApp: sent as a template (outside the 24-hour window: counts against the messaging
    # limit, billed); what Meta's status ``pricing`` said was billed, and in which category.
    template_at: datetime | None = _time()
    billable: bool | None = None
    pricing_category: str | None = Field(default=None, max_length=32)
    created_at: datetime = _created()


class Confirmation(SQLModel, table=True):
    """A self-reported like or share: the ASN's tap, never a measurement of the platform."""

    __tablename__ = "confirmation"
    __table_args__ = (
        UniqueConstraint("delivery_id", "kind"),
        CheckConstraint(_in("kind", ConfirmationKind), name="kind"),
        Index("ix_confirmation_evidence_at", "evidence_at"),
    )

    id: int | None = Field(default=None, primary_key=True, sa_type=BigId)
    delivery_id: int = Field(
        sa_type=BigId, sa_column_args=[ForeignKey("delivery.id", ondelete="CASCADE")]
    )
    kind: str = Field(max_length=8)
    channel: str | None = Field(default=None, max_length=16)
    created_at: datetime = _created()
    # Issue 15, share evidence: the link of the ASN's own repost, sent after a Share tap
    # (still self-reported: Gaung checks only that it is a link to a known platform).
    evidence_url: str | None = Field(default=None, max_length=2048)
    evidence_at: datetime | None = _time()


class ButtonRefresh(SQLModel, table=True):
    """A sent message whose buttons must be redrawn to show what its ASN has confirmed.

    Taps arrive far faster than Telegram lets a bot edit messages (about 30 a second for the
    whole bot), so the edit is queued here in the tap's own transaction and drawn later at the
    paced rate: one row per message however often it is tapped, and a crash loses none.
    ``version`` grows with every tap, so a sender that drew an older state leaves the row for
    another pass instead of deleting it.
    """

    __tablename__ = "button_refresh"
    __table_args__ = (Index("ix_button_refresh_queued_at", "queued_at"),)

    delivery_id: int = Field(
        primary_key=True,
        sa_type=BigId,
        sa_column_args=[ForeignKey("delivery.id", ondelete="CASCADE")],
    )
    version: int = 1
    queued_at: datetime = _created()
    claimed_until: datetime | None = _time()


class AuditLog(SQLModel, table=True):
    """Every admin action, by whom, through which door (cli, api, telegram)."""

    __tablename__ = "audit_log"
    __table_args__ = (Index("ix_audit_log_at", "at"),)

    id: int | None = Field(default=None, primary_key=True, sa_type=BigId)
    at: datetime = _created()
    actor: str = Field(max_length=100)
    action: str = Field(max_length=64)
    target: str | None = Field(default=None, max_length=100)
    details: str | None = Field(default=None)


class PostOpdStat(SQLModel, table=True):
    """Running counts per post × OPD, written in the same transaction as what they count.

    The participation table for a year then sums about 60 thousand rows instead of joining
    millions of deliveries with their confirmations; ``db.stats.rebuild`` recomputes it.
    """

    __tablename__ = "post_opd_stat"

    post_id: int = Field(
        primary_key=True, sa_column_args=[ForeignKey("post.id", ondelete="CASCADE")]
    )
    opd_id: int = Field(primary_key=True, foreign_key="opd.id")
    delivered: int = 0
    liked: int = 0
    shared: int = 0
    participated: int = 0
    opened: int = Field(default=0, sa_column_kwargs={"server_default": text("0")})


class OpdDayStat(SQLModel, table=True):
    """``post_opd_stat`` summed per OPD and UTC day of the post's approval, kept by the same
    upsert (``db.delivery.counters.bump``), in the same transaction.

    A year's participation table then sums about 21 thousand rows (days × OPD) instead of 63
    thousand (posts × OPD) joined to their posts, and a month about 1,700 instead of a scan
    of every counter; only the posts approved on the window's partial first and last days
    are read per post. UTC days, not WIB ones: the rollup stays right whatever the
    deployment's time zone, a WIB window only has more hours at its edges (issue 11).
    """

    __tablename__ = "opd_day_stat"

    day: date = Field(primary_key=True)
    opd_id: int = Field(primary_key=True, foreign_key="opd.id")
    delivered: int = 0
    liked: int = 0
    shared: int = 0
    participated: int = 0
    opened: int = 0


class ChannelState(SQLModel, table=True):
    """Per channel, shared by every worker process: the flood wait Telegram or Meta imposed.

    One 429 pauses the whole bot, not just the worker that received it.
    """

    __tablename__ = "channel_state"

    channel: str = Field(primary_key=True, max_length=16)
    paused_until: datetime | None = _time()
    updated_at: datetime = _created()
    # The one budget of the bot (``db.delivery.pace``): every process reserves its send slots
    # here, so the sum of what they send stays within what the channel allows.
    rate: float | None = None  # the learned rate (messages/s); None: not learned yet
    failed_rate: float | None = None  # the rate at which the last 429 came
    next_slot_at: datetime | None = _time()
    rate_changed_at: datetime | None = _time()
    # Replies before broadcasts across processes (``db.delivery.pace``): the recent rate of
    # reply slots (decaying) and when a broadcast is next owed its least share under a flood of
    # replies (``BULK_LEAST``).
    urgent_rate: float | None = None
    urgent_at: datetime | None = _time()
    bulk_next_at: datetime | None = _time()
    # The configured rate the learned ``rate`` and ``failed_rate`` belong to (messages/s):
    # when it changes (WhatsApp's 80/s upgraded to 1,000/s) the pace keeps the learned fraction.
    ceiling: float | None = None


class ChatPace(SQLModel, table=True):
    """Per chat, shared by every process: when the bot may next send to it (about 1/s).

    Only sends that can come in bursts to one person (replies, redraws) reserve here; a
    broadcast sends one message per chat and keeps to the process's own spacing (issue 10).
    One row per chat the bot ever replied to: bounded by the roster.
    """

    __tablename__ = "chat_pace"

    channel: str = Field(primary_key=True, max_length=16)
    chat_id: str = Field(primary_key=True, max_length=64)
    next_at: datetime = _created()


class WorkerHeartbeat(SQLModel, table=True):
    """Live delivery workers, so that each takes its share of the channel's rate."""

    __tablename__ = "worker_heartbeat"

    id: str = Field(primary_key=True, max_length=64)
    started_at: datetime = _created()
    seen_at: datetime = _created()


class RegistrationStatus(StrEnum):
    PENDING = "pending"
    APPROVED = "approved"
    REJECTED = "rejected"


class RegistrationRequest(SQLModel, table=True):
    """An ASN who typed their NIP instead of sharing a contact, awaiting their OPD admin.

    At most one pending request per chat account: asking again does not pile up requests.
    """

    __tablename__ = "registration_request"
    __table_args__ = (
        CheckConstraint(_in("status", RegistrationStatus), name="status"),
        CheckConstraint(_in("channel", Channel), name="channel"),
        Index(
            "uq_registration_request_pending",
            "channel",
            "external_id",
            unique=True,
            sqlite_where=text("status = 'pending'"),
            postgresql_where=text("status = 'pending'"),
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    asn_id: int = Field(sa_column_args=[ForeignKey("asn.id", ondelete="CASCADE")])
    channel: str = Field(max_length=16)
    external_id: str = Field(max_length=64)
    chat_id: str = Field(max_length=64)
    status: str = Field(default=RegistrationStatus.PENDING, max_length=16)
    decided_by: int | None = Field(default=None, foreign_key="admin.id")
    created_at: datetime = _created()
    decided_at: datetime | None = _time()


class ChatState(SQLModel, table=True):
    """Where a person is in a multi-step chat (an admin's post submission, a /hapus prompt).

    Kept in the database, not in the bot framework's memory, so that any worker process can
    take the next message and a restart forgets nothing.
    """

    __tablename__ = "chat_state"

    channel: str = Field(primary_key=True, max_length=16)
    external_id: str = Field(primary_key=True, max_length=64)
    state: str = Field(max_length=32)
    data: str | None = None
    updated_at: datetime = _created()


class ProcessedUpdate(SQLModel, table=True):
    """The inbox of webhook updates: stored before the webhook answers, handled once.

    Telegram and Meta may deliver an update twice; the key makes the second a no-op. An update
    stored but not yet handled (``handled_at`` empty) survives a crash and is handled on start.
    """

    __tablename__ = "processed_update"
    __table_args__ = (
        Index("ix_processed_update_at", "at"),
        Index("ix_processed_update_unhandled", "channel", "handled_at"),
    )

    channel: str = Field(primary_key=True, max_length=16)
    update_id: str = Field(primary_key=True, max_length=128)
    payload: str | None = None
    at: datetime = _created()
    handled_at: datetime | None = _time()


class ChatAllowance(SQLModel, table=True):
    """How much of a per-person allowance (NIP attempts, messages, admin pages) is spent in
    the current window; see ``db.accounts.limits``."""

    __tablename__ = "chat_allowance"

    kind: str = Field(primary_key=True, max_length=16)
    subject: str = Field(primary_key=True, max_length=100)
    window_start: datetime = Field(sa_type=UTCDateTime, nullable=False)
    used: int = 0


class AppSecret(SQLModel, table=True):
    """Keys the app makes for itself and every process shares: only the key of tracked-link
    codes (``db.delivery.opens``), which proves nothing about who anyone is. Keys that sign
    people in come from ``GAUNG_SECRET_KEY`` and never enter the database."""

    __tablename__ = "app_secret"

    name: str = Field(primary_key=True, max_length=32)
    value: str = Field(max_length=128)
    created_at: datetime = _created()


class DashboardSession(SQLModel, table=True):
    """A dashboard sign-in link (``link``, single use) or a signed-in session (``session``).

    Kept server-side so that signing out ends a session at once, and a link works once. Only a
    SHA-256 of each token is stored; the token itself also carries an HMAC under
    ``GAUNG_SECRET_KEY``, which never enters the database. ``subject`` names who: an admin
    (``admin:5``) or an API key (``apikey:3``), looked up again on every request.
    """

    __tablename__ = "dashboard_session"
    __table_args__ = (CheckConstraint("kind IN ('link', 'session')", name="kind"),)

    id: int | None = Field(default=None, primary_key=True)
    kind: str = Field(max_length=8)
    token_hash: str = Field(max_length=64, unique=True)
    subject: str = Field(max_length=32, index=True)
    created_at: datetime = _created()
    expires_at: datetime = Field(sa_type=UTCDateTime, nullable=False)
    used_at: datetime | None = _time()  # a link exchanged for a session
    ended_at: datetime | None = _time()  # a session signed out


class SourceKind(StrEnum):
    RSS = "rss"  # a website's RSS or Atom feed
    YOUTUBE = "youtube"  # a YouTube channel's Atom feed
    INSTAGRAM = "instagram"  # Meta Graph API, only with a token
    FACEBOOK = "facebook"  # Meta Graph API, only with a token


class FeedSource(SQLModel, table=True):
    """An OPD's official publishing channel that Gaung polls for new posts.

    ``etag`` and ``last_modified`` are the validators of the last answer, sent back so that an
    unchanged feed costs the OPD's server a 304; ``failures`` drives the back-off.
    """

    __tablename__ = "feed_source"
    __table_args__ = (
        UniqueConstraint("url"),
        CheckConstraint(_in("kind", SourceKind), name="kind"),
        Index("ix_feed_source_due", "active", "next_poll_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    opd_id: int = Field(foreign_key="opd.id", index=True)
    kind: str = Field(max_length=16)
    url: str = Field(max_length=2048)
    active: bool = True
    etag: str | None = Field(default=None, max_length=512)
    last_modified: str | None = Field(default=None, max_length=128)
    next_poll_at: datetime | None = _time()
    last_polled_at: datetime | None = _time()
    last_ok_at: datetime | None = _time()
    failures: int = 0
    last_error: str | None = Field(default=None, max_length=500)
    created_at: datetime = _created()


class FeedItem(SQLModel, table=True):
    """An item seen in a source: remembered so that no item ever becomes a post twice.

    ``post_id`` is the submitted post it became; ``skipped`` says why it did not (already in the
    feed when the source was added, its link already submitted, an unusable link).
    """

    __tablename__ = "feed_item"
    __table_args__ = (UniqueConstraint("source_id", "item_key"),)

    id: int | None = Field(default=None, primary_key=True)
    source_id: int = Field(sa_column_args=[ForeignKey("feed_source.id", ondelete="CASCADE")])
    item_key: str = Field(max_length=512)
    url: str | None = Field(default=None, max_length=2048)
    title: str | None = Field(default=None, max_length=1000)
    post_id: int | None = Field(
        default=None, sa_column_args=[ForeignKey("post.id", ondelete="SET NULL")]
    )
    skipped: str | None = Field(default=None, max_length=200)
    seen_at: datetime = _created()


# --- neutrality guards at approval (issue 15) -------------------------------------------------


class PostApproval(SQLModel, table=True):
    """One Diskominfo approver's neutrality confirmation of a post: who (``approver``: an admin
    ``admin:<id>``, an API key ``apikey:<id>`` or the CLI operator ``cli:<login>``), when, and the
    warnings they were shown. In a campaign period a post needs two rows from different
    approvers before it is queued; the unique pair makes "the same approver twice" impossible
    even when two presses race."""

    __tablename__ = "post_approval"
    __table_args__ = (UniqueConstraint("post_id", "approver"),)

    id: int | None = Field(default=None, primary_key=True)
    post_id: int = Field(foreign_key="post.id", index=True)
    approver: str = Field(max_length=64)
    admin_id: int | None = Field(default=None, foreign_key="admin.id")
    neutral: bool = True  # the approver ticked "no candidate, party or campaign content"
    warnings: str | None = Field(default=None, max_length=4000)  # JSON list shown at approval
    approved_at: datetime = _created()


class OfficialAccount(SQLModel, table=True):
    """An official account of the regency (``opd_id`` None: the regency's own, e.g. the
    Bupati's) on a platform: a handle (Instagram, TikTok, X, YouTube handle or channel id,
    Facebook page name or numeric id) or, for ``web``, a domain that also covers its
    subdomains. Links from any other account get a warning at review."""

    __tablename__ = "official_account"
    __table_args__ = (
        UniqueConstraint("platform", "handle"),
        CheckConstraint(_in("platform", Platform), name="platform"),
    )

    id: int | None = Field(default=None, primary_key=True)
    opd_id: int | None = Field(default=None, foreign_key="opd.id", index=True)
    platform: str = Field(max_length=16)
    handle: str = Field(max_length=255)
    created_at: datetime = _created()


def table(model: type[SQLModel]) -> Table:
    """The Core table of a model, for set-based SQL that the ORM attributes type badly."""
    return cast(Table, model.__table__)  # type: ignore[attr-defined]


# --- recaps and OPD publishing activity (issue 15) -----------------------------------------


class RecapRun(SQLModel, table=True):
    """A scheduled message claimed for one local day: the unique (kind, day) is what makes the
    daily recap go out once however many workers race for it. The row is committed before
    anything is sent, so a worker that crashes mid-send loses that day's recap rather than
    letting another worker send it a second time."""

    __tablename__ = "recap_run"
    __table_args__ = (UniqueConstraint("kind", "day"),)

    id: int | None = Field(default=None, primary_key=True)
    kind: str = Field(max_length=32)
    day: date
    claimed_by: str | None = Field(default=None, max_length=64)
    claimed_at: datetime = _created()
    finished_at: datetime | None = _time()
    sent: int = 0  # notices that went out


class SilenceNudge(SQLModel, table=True):
    """A gentle nudge sent to an OPD's admins because the OPD had submitted no post for a while;
    kept so that a silence earns at most one nudge per ``GAUNG_SILENT_NUDGE_DAYS``."""

    __tablename__ = "silence_nudge"
    __table_args__ = (Index("ix_silence_nudge_opd_at", "opd_id", "nudged_at"),)

    id: int | None = Field(default=None, primary_key=True)
    opd_id: int = Field(sa_column_args=[ForeignKey("opd.id", ondelete="CASCADE")])
    nudged_at: datetime = _created()
    silent_days: int | None = None  # days since the OPD's last submitted post (None: never)
