"""Gaung's settings: one class, read from the environment (prefix ``GAUNG_``) and ``.env``.

Names are part of the outer contract (operators' scripts set them), so they are kept exactly.
The settings sit in ``db`` because every layer needs them and ``db`` is the bottom layer.
"""

from __future__ import annotations

import ipaddress
from datetime import date, time
from functools import cached_property
from typing import Literal
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    Field,
    SecretStr,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, SettingsConfigDict

TELEGRAM_WEBHOOK_PORTS = (443, 80, 88, 8443)
# Neutrality guards (issue 15): words that warn Diskominfo at review, comma-separated. Party
# names that are also everyday words (Garuda, Buruh, Gelora, PBB the land tax) are given in
# full; candidate names belong in GAUNG_GUARD_EXTRA_KEYWORDS, added by the operator.
DEFAULT_GUARD_KEYWORDS = (
    "pilkada,pilbup,pilgub,pileg,pilpres,pemilu,pemilihan umum,coblos,nyoblos,paslon,capres,"
    "cawapres,cagub,cawagub,cabup,cawabup,caleg,calon bupati,calon wakil bupati,calon gubernur,"
    "kampanye,nomor urut,tim sukses,timses,tim pemenangan,relawan pemenangan,partai,parpol,"
    "PKB,Gerindra,PDIP,PDI-P,PDI Perjuangan,Golkar,NasDem,Partai Buruh,Partai Gelora,PKS,"
    "Partai Kebangkitan Nusantara,Hanura,Partai Garuda,PAN,Partai Bulan Bintang,Demokrat,PSI,"
    "Perindo,PPP,Partai Ummat"
)


class SettingsError(Exception):
    """A setting is missing or malformed; the message is one line naming it."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="GAUNG_",
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
        frozen=True,
    )

    database_url: str = "sqlite:///gaung.db"

    telegram_token: str | None = None
    telegram_api_url: str = "https://api.telegram.org"
    # Whoever holds it can post updates as any Telegram user, admins included: long or nothing.
    telegram_webhook_secret: str | None = None
    telegram_rate: float = Field(default=30.0, gt=0, le=1000)
    telegram_paid_broadcast: bool = False

    whatsapp_token: str | None = None
    whatsapp_phone_id: str | None = None
    whatsapp_app_secret: str | None = None
    whatsapp_verify_token: str | None = None
    whatsapp_api_url: str = "https://graph.facebook.com"
    whatsapp_rate: float = Field(default=80.0, gt=0, le=1000)
    whatsapp_daily_limit: int = Field(default=2000, ge=0)
    whatsapp_template: str = "gaung_postingan_baru"
    whatsapp_template_language: str = "id"
    # Issue 13: the approved utility template (one body parameter) that carries an admin
    # notice when the admin's 24-hour window is closed (free-form would fail with 131047).
    whatsapp_notice_template: str = "gaung_pemberitahuan"
    # Issue 13: the category Meta bills the template in (it may re-categorise a "please like
    # and share" template as marketing) and the price per delivered template in each category
    # (Indonesian rates are unconfirmed: set them from the invoice), for the cost estimate.
    whatsapp_template_category: str = Field(
        default="marketing", pattern=r"^(marketing|utility|authentication)$"
    )
    whatsapp_price_marketing: float = Field(default=0.0411, ge=0)
    whatsapp_price_utility: float = Field(default=0.02, ge=0)
    whatsapp_price_authentication: float = Field(default=0.02, ge=0)
    whatsapp_price_currency: str = "USD"
    # An ASN reachable on both channels gets each post once, on this channel (``asn``'s own
    # ``preferred_channel`` overrides it).
    preferred_channel: str = Field(default="telegram", pattern=r"^(telegram|whatsapp)$")

    public_url: str | None = None
    timezone: str = "Asia/Jakarta"

    # Signs dashboard sign-in links and sessions. A setting, not a database row, so that a
    # database backup cannot mint sessions. Required by ``gaung serve``; see the README for
    # rotating it.
    secret_key: SecretStr | None = None

    # HTTP hardening (README): request bodies above this are refused with 413 before parsing.
    max_body_bytes: int = Field(default=1_000_000, ge=1024, le=100_000_000)
    # PostgreSQL: give up connecting after this many seconds, and cancel any statement that
    # runs longer (0: no limit), so a database in trouble answers 503 instead of hanging.
    database_connect_timeout: float = Field(default=5.0, gt=0, le=300)
    database_statement_timeout: float = Field(default=30.0, ge=0, le=3600)
    # ``text`` for people, ``json`` (one object a line) for a log collector.
    log_format: Literal["text", "json"] = "text"

    # Delivery engine knobs (not in the contract's first list; documented in the README).
    reminder_delay_hours: float = Field(default=6.0, ge=0)
    quiet_hours_start: time = time(21, 0)
    quiet_hours_end: time = time(6, 0)
    # A delivery whose sends keep failing for the channel's reasons (5xx, timeouts) is retried
    # for this long before it fails; a refused one (400) fails at once.
    delivery_time_budget_hours: float = Field(default=24.0, gt=0, le=24 * 14)
    delivery_lease_seconds: float = Field(default=60.0, gt=0, le=3600)
    # A worker asked to stop finishes its sends and records their outcomes for at most this
    # long, then exits even if the database does not answer (its rows' leases run out).
    worker_stop_seconds: float = Field(default=30.0, gt=0, le=3600)

    # OPD sources (issue 15): how often each feed is polled when it answers well, and the
    # regency's Meta Graph API token, without which Instagram/Facebook sources are refused.
    feed_poll_minutes: float = Field(default=30.0, ge=1, le=24 * 60)
    meta_graph_token: str | None = None
    meta_graph_api_url: str = "https://graph.facebook.com"
    meta_ig_user_id: str | None = None  # the regency's own IG business account (discovery)

    # Allowances per chat account (issue 12), kept in the database: NIPs typed per day, messages
    # per minute before Gaung asks for patience, and NIP-request pages to one OPD's admins per
    # hour (requests over it wait in /permintaan).
    nip_attempts_per_day: int = Field(default=5, ge=0, le=1000)
    chat_messages_per_minute: int = Field(default=20, ge=1, le=10000)
    admin_pages_per_hour: int = Field(default=20, ge=0, le=10000)

    # Personal data (issue 12): months after which ``gaung worker`` purges delivery detail of
    # people who left the roster, handled webhook ids and audit entries (docs/privacy.md).
    retention_months: int = Field(default=12, ge=1, le=120)

    # ``GET /metrics`` (issue 12): scraped with ``Authorization: Bearer <this>``; unset, the
    # route answers 404. Not "loopback only": behind the TLS proxy (or compose's bridge) every
    # request comes from the proxy, so the source address proves nothing.
    metrics_token: SecretStr | None = None
    # Daily recap (issue 15): when ``gaung worker`` sends it (WIB, never in quiet hours; a worker
    # started later the same day still sends it), and the switch to turn it off. An OPD with no
    # submitted post for ``silent_days`` is named to Diskominfo and its admins are nudged, at
    # most once per ``silent_nudge_days``.
    recap_time: time = time(16, 0)
    recap_enabled: bool = True
    silent_days: int = Field(default=14, ge=1, le=365)
    silent_nudge_days: int = Field(default=7, ge=1, le=365)
    # Neutrality guards at approval (issue 15, docs/operations.md): keywords that warn at
    # review (comma-separated; EXTRA adds candidate names without retyping the defaults), and
    # the campaign period (WIB dates, both days included; empty: none) in which a post needs
    # two different Diskominfo approvers.
    guard_keywords: str = DEFAULT_GUARD_KEYWORDS
    guard_extra_keywords: str = ""
    campaign_start: date | None = None
    campaign_end: date | None = None
    # Issue 15 (clarification first, reminder caps): a clarification post's reminder comes
    # this many hours after its send instead of ``reminder_delay_hours``; no ASN gets more than
    # ``reminders_per_week`` reminders in any rolling seven days (0: no reminders at all).
    clarification_reminder_hours: float = Field(default=1.0, ge=0)
    reminders_per_week: int = Field(default=3, ge=0, le=1000)

    @field_validator("telegram_api_url", "whatsapp_api_url", "public_url", "meta_graph_api_url")
    @classmethod
    def _http_origin(cls, value: str | None, info: ValidationInfo) -> str | None:
        if value is None:
            return None
        if not value.startswith(("http://", "https://")):
            raise ValueError("must start with http:// or https://")
        if info.field_name == "public_url":
            _webhook_origin(value, webhook=bool(info.data.get("telegram_webhook_secret")))
        return value.rstrip("/")

    @field_validator("telegram_webhook_secret")
    @classmethod
    def _long_webhook_secret(cls, value: str | None) -> str | None:
        if value is None:
            return None
        if not 32 <= len(value) <= 256:
            raise ValueError("must be 32 to 256 characters (whoever knows it can pose as Telegram)")
        if not all(c.isascii() and (c.isalnum() or c in "_-") for c in value):
            raise ValueError("may only contain A-Z, a-z, 0-9, _ and -")
        return value

    @field_validator("whatsapp_app_secret")
    @classmethod
    def _long_app_secret(cls, value: str | None) -> str | None:
        """Whoever holds the app secret can sign events as Meta, i.e. as any WhatsApp user,
        admins included (the verify token only answers Meta's subscription check, so it opens
        nothing). Meta issues 32 hex characters: anything shorter is a truncated paste or made
        up, and a short one can be guessed. Empty is unset (every event is refused)."""
        if not value:
            return None
        if len(value) < 32:
            raise ValueError(
                "must be at least 32 characters (Meta's App secret, Settings -> Basic, "
                "is 32 hex characters)"
            )
        return value

    @field_validator("secret_key", "metrics_token")
    @classmethod
    def _long_secret(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and len(value.get_secret_value()) < 32:
            raise ValueError("must be at least 32 characters (make one: openssl rand -hex 32)")
        return value

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {value!r}") from exc
        return value

    @field_validator("campaign_start", "campaign_end", mode="before")
    @classmethod
    def _empty_date(cls, value: object) -> object:
        return None if isinstance(value, str) and not value.strip() else value

    @model_validator(mode="after")
    def _campaign_period(self) -> Settings:
        if (self.campaign_start is None) != (self.campaign_end is None):
            raise ValueError("GAUNG_CAMPAIGN_START and GAUNG_CAMPAIGN_END are set together")
        if self.campaign_start and self.campaign_end and self.campaign_end < self.campaign_start:
            raise ValueError("GAUNG_CAMPAIGN_END is before GAUNG_CAMPAIGN_START")
        return self

    @model_validator(mode="after")
    def _paid_rate(self) -> Settings:
        if self.telegram_rate > 30 and not self.telegram_paid_broadcast:
            raise ValueError(
                "TELEGRAM_RATE above 30 needs GAUNG_TELEGRAM_PAID_BROADCAST=true "
                "(Telegram allows 30 messages/s to a free bot)"
            )
        return self

    @cached_property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @property
    def signing_key(self) -> bytes | None:
        """The dashboard's HMAC key, or None when ``GAUNG_SECRET_KEY`` is not set."""
        return self.secret_key.get_secret_value().encode() if self.secret_key else None

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")


def is_loopback(host: str) -> bool:
    """This machine's own address: where plain http and any port are fine (tests, the demo);
    Telegram's Bot API server in ``--local`` mode draws the same line."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _webhook_origin(url: str, *, webhook: bool) -> None:
    """Telegram sends webhooks only to https:// on ports 443, 80, 88 or 8443, and the
    dashboard's sign-in link carries a token: plain http, or another port, is for a server on
    this machine (tests, the demo). Said at start-up rather than by a refused setWebhook."""
    parts = urlsplit(url)
    if is_loopback(parts.hostname or ""):
        return
    if parts.scheme != "https":
        raise ValueError("must start with https:// (http:// only for a loopback address)")
    try:
        port = parts.port
    except ValueError:
        raise ValueError("has a malformed port") from None
    if webhook and port not in (None, *TELEGRAM_WEBHOOK_PORTS):
        raise ValueError(
            "Telegram sends webhooks only to ports 443, 80, 88 or 8443 "
            f"(GAUNG_TELEGRAM_WEBHOOK_SECRET is set), not {port}"
        )


def load_settings(**overrides: object) -> Settings:
    """Build the settings, turning pydantic's report into one line that names the setting."""
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        err = exc.errors()[0]
        loc = err.get("loc") or ()
        name = f"GAUNG_{str(loc[0]).upper()}" if loc else "settings"
        raise SettingsError(f"setting {name}: {err['msg']}") from None
