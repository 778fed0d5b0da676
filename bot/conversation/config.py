"""What the conversation steps need from the deployment's configuration, channel-neutral."""

from __future__ import annotations

from dataclasses import dataclass

from db.settings import Settings as DeploymentSettings


@dataclass(frozen=True)
class Settings:
    public_url: str | None = None
    # An ASN reachable on both channels is sent each post on this one (GAUNG_PREFERRED_CHANNEL).
    preferred_channel: str | None = None
    # What one broadcast template costs, for the estimate Diskominfo sees before approving.
    template_price: float = 0.0
    template_category: str = "marketing"
    currency: str = "USD"

    @classmethod
    def of(cls, settings: DeploymentSettings) -> Settings:
        category = settings.whatsapp_template_category
        return cls(
            public_url=settings.public_url,
            preferred_channel=settings.preferred_channel,
            template_price=float(getattr(settings, f"whatsapp_price_{category}")),
            template_category=category,
            currency=settings.whatsapp_price_currency,
        )
