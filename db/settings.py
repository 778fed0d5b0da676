"""Gaung's settings: one class, read from the environment (prefix ``GAUNG_``) and ``.env``.

Names are part of the outer contract (operators' scripts set them), so they are kept exactly.
The settings sit in ``db`` because every layer needs them and ``db`` is the bottom layer.
"""

from __future__ import annotations

from datetime import time
from functools import cached_property
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


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
    telegram_webhook_secret: str | None = Field(default=None, pattern=r"^[A-Za-z0-9_-]{1,256}$")
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

    # Delivery engine knobs (not in the contract's first list; documented in the README).
    reminder_delay_hours: float = Field(default=6.0, ge=0)
    quiet_hours_start: time = time(21, 0)
    quiet_hours_end: time = time(6, 0)
    delivery_max_attempts: int = Field(default=5, ge=1, le=50)
    delivery_lease_seconds: float = Field(default=60.0, gt=0, le=3600)

    # OPD sources (issue 15): how often each feed is polled when it answers well, and the
    # regency's Meta Graph API token, without which Instagram/Facebook sources are refused.
    feed_poll_minutes: float = Field(default=30.0, ge=1, le=24 * 60)
    meta_graph_token: str | None = None
    meta_graph_api_url: str = "https://graph.facebook.com"
    meta_ig_user_id: str | None = None  # the regency's own IG business account (discovery)

    # Personal data (issue 12): months after which ``gaung worker`` purges delivery detail of
    # people who left the roster, handled webhook ids and audit entries (docs/privacy.md).
    retention_months: int = Field(default=12, ge=1, le=120)

    @field_validator("telegram_api_url", "whatsapp_api_url", "public_url", "meta_graph_api_url")
    @classmethod
    def _http_origin(cls, value: str | None) -> str | None:
        if value is None:
            return None
        if not value.startswith(("http://", "https://")):
            raise ValueError("must start with http:// or https://")
        return value.rstrip("/")

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {value!r}") from exc
        return value

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
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")


def load_settings(**overrides: object) -> Settings:
    """Build the settings, turning pydantic's report into one line that names the setting."""
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        err = exc.errors()[0]
        loc = err.get("loc") or ()
        name = f"GAUNG_{str(loc[0]).upper()}" if loc else "settings"
        raise SettingsError(f"setting {name}: {err['msg']}") from None
