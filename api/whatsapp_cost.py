"""The ``whatsapp`` field of ``GET /api/v1/posts/{id}``: templates, estimated and billed cost."""

from __future__ import annotations

from sqlmodel import Session

from db.delivery.whatsapp import cost_summary
from db.models import Post
from db.settings import Settings
from db.types import utcnow


def whatsapp_cost(session: Session, post: Post, settings: Settings) -> dict[str, object]:
    prices = {
        "marketing": settings.whatsapp_price_marketing,
        "utility": settings.whatsapp_price_utility,
        "authentication": settings.whatsapp_price_authentication,
    }
    return cost_summary(
        session,
        post,
        prices=prices,
        category=settings.whatsapp_template_category,
        currency=settings.whatsapp_price_currency,
        preferred=settings.preferred_channel,
        now=utcnow(),
    )
