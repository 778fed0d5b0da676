"""What the conversation steps need from the deployment's configuration, channel-neutral."""

from __future__ import annotations

from dataclasses import dataclass, field

from db.posts.guards import GuardRules
from db.settings import Settings as DeploymentSettings


@dataclass(frozen=True)
class Settings:
    public_url: str | None = None
    signing_key: bytes | None = None  # signs dashboard sign-in links (GAUNG_SECRET_KEY)
    # Allowances per chat account (db.accounts.limits).
    nip_attempts_per_day: int = 5
    messages_per_minute: int = 20
    admin_pages_per_hour: int = 20
    # The retention period the consent text states (GAUNG_RETENTION_MONTHS).
    retention_months: int = 12
    # An ASN reachable on both channels is sent each post on this one (GAUNG_PREFERRED_CHANNEL).
    preferred_channel: str | None = None
    # What one broadcast template costs, for the estimate Diskominfo sees before approving.
    template_price: float = 0.0
    template_category: str = "marketing"
    currency: str = "USD"
    # Neutrality guards at approval: keywords, campaign period (db.posts.guards).
    guards: GuardRules = field(default_factory=GuardRules)

    @classmethod
    def of(cls, settings: DeploymentSettings) -> Settings:
        category = settings.whatsapp_template_category
        return cls(
            public_url=settings.public_url,
            signing_key=settings.signing_key,
            nip_attempts_per_day=settings.nip_attempts_per_day,
            messages_per_minute=settings.chat_messages_per_minute,
            admin_pages_per_hour=settings.admin_pages_per_hour,
            retention_months=settings.retention_months,
            preferred_channel=settings.preferred_channel,
            template_price=float(getattr(settings, f"whatsapp_price_{category}")),
            template_category=category,
            currency=settings.whatsapp_price_currency,
            guards=GuardRules.of(settings),
        )
