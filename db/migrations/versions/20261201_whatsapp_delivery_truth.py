"""WhatsApp: what each delivery was sent as and billed; an ASN's preferred channel

``delivery.template_at``: when it went as an approved template (outside the customer-service
window): a template counts its recipient against the messaging-limit tier for 24 hours, and
is what Meta bills. ``billable`` and
``pricing_category`` come from the ``pricing`` object of the delivery's status webhooks, so the
report shows the cost actually billed, not an estimate. ``asn.preferred_channel`` overrides the
deployment's preference for an ASN reachable on both channels.
"""

from db.migrations.shapes import Index, add_columns, boolean, drop_columns, moment, string

revision: str = '0013'
down_revision: str | None = '0007'

DELIVERY = (
    moment('template_at', nullable=True),
    boolean('billable', nullable=True),
    string('pricing_category', 32, nullable=True),
)
DELIVERY_INDEX = Index('ix_delivery_template_at', ['template_at'])
CHAT_IDENTITY = (string('user_id', 64, nullable=True),)
CHAT_IDENTITY_INDEX = Index('ix_chat_identity_user_id', ['user_id'])
ASN = (string('preferred_channel', 16, nullable=True),)


def upgrade() -> None:
    add_columns('delivery', DELIVERY, DELIVERY_INDEX)
    add_columns('chat_identity', CHAT_IDENTITY, CHAT_IDENTITY_INDEX)
    add_columns('asn', ASN)


def downgrade() -> None:
    drop_columns('asn', ASN)
    drop_columns('chat_identity', CHAT_IDENTITY, CHAT_IDENTITY_INDEX)
    drop_columns('delivery', DELIVERY, DELIVERY_INDEX)
