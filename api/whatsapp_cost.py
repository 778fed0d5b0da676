"""WhatsApp's cost in the reports: the ``whatsapp`` field of ``GET /api/v1/posts/{id}`` (before
approval: templates and estimate; after: templates sent, estimate and what Meta billed) and of
the participation report (templates sent in its scope and what Meta billed for them).

"Billed" is Meta's own billing data: the ``pricing`` object of the status webhooks says which
messages are billable and in which category; the amount is that count times the configured
price per category (Meta's webhook carries no amount). The estimate prices every template sent
in the configured category."""

from __future__ import annotations

from sqlmodel import Session

from db.delivery.whatsapp import Billing, billing_by_post, billing_in_window, cost_summary
from db.models import Post
from db.reporting.participation import Participation
from db.settings import Settings
from db.types import utcnow

BILLED_SOURCE = (
    "Data tagihan Meta: pesan yang dinyatakan billable oleh objek pricing di status webhook "
    "WhatsApp, dikali harga per kategori dari setelan GAUNG_WHATSAPP_PRICE_*"
)


def prices_of(settings: Settings) -> dict[str, float]:
    return {
        "marketing": settings.whatsapp_price_marketing,
        "utility": settings.whatsapp_price_utility,
        "authentication": settings.whatsapp_price_authentication,
    }


def billing_fields(billing: Billing, settings: Settings) -> dict[str, object]:
    """One ``Billing`` as the reports show it: estimate beside what Meta billed."""
    prices = prices_of(settings)
    by_category = billing.billed.by_category
    return {
        "template_messages": billing.templates,
        "estimated_cost": round(
            billing.templates * prices.get(settings.whatsapp_template_category, 0.0), 4
        ),
        "category": settings.whatsapp_template_category,
        "currency": settings.whatsapp_price_currency,
        "billed_messages": billing.billed.messages,
        "billed_by_category": by_category,
        "billed_cost": round(sum(prices.get(k, 0.0) * n for k, n in by_category.items()), 4),
        "billed_source": BILLED_SOURCE,
    }


def post_billing(
    session: Session, post_ids: list[int], settings: Settings
) -> dict[int, dict[str, object]]:
    """Per post, for the dashboard's post list: only posts that sent WhatsApp templates."""
    found = billing_by_post(session, post_ids)
    return {k: billing_fields(v, settings) for k, v in found.items()}


def participation_billing(
    session: Session, report: Participation, settings: Settings
) -> dict[str, object] | None:
    """The participation report's ``whatsapp`` field: its window and OPDs (None without one)."""
    if report.window is None:
        return None
    # A report of every OPD bills every OPD: no list of codes to bind and match (issue 11).
    kodes = None if report.opd_ids is None else [r.kode for r in report.rows]
    billing = billing_in_window(session, report.window.start, report.window.end, opd_kodes=kodes)
    return billing_fields(billing, settings)


def whatsapp_cost(session: Session, post: Post, settings: Settings) -> dict[str, object]:
    prices = prices_of(settings)
    summary = cost_summary(
        session,
        post,
        prices=prices,
        category=settings.whatsapp_template_category,
        currency=settings.whatsapp_price_currency,
        preferred=settings.preferred_channel,
        now=utcnow(),
    )
    return summary | {"billed_source": BILLED_SOURCE}
