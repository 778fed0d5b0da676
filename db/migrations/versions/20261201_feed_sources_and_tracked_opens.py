"""feed sources, seen feed items, tracked opens"""

import sqlalchemy as sa
from alembic import op

import db.types

revision: str = '0012'
down_revision: str | None = '0006'


def upgrade() -> None:
    op.create_table('feed_source',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('opd_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('url', sa.String(length=2048), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('etag', sa.String(length=512), nullable=True),
    sa.Column('last_modified', sa.String(length=128), nullable=True),
    sa.Column('next_poll_at', db.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('last_polled_at', db.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('last_ok_at', db.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('failures', sa.Integer(), nullable=False),
    sa.Column('last_error', sa.String(length=500), nullable=True),
    sa.Column('created_at', db.types.UTCDateTime(timezone=True), nullable=False),
    sa.CheckConstraint("kind IN ('rss', 'youtube', 'instagram', 'facebook')", name=op.f('ck_feed_source_kind')),
    sa.ForeignKeyConstraint(['opd_id'], ['opd.id'], name=op.f('fk_feed_source_opd_id_opd')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_feed_source')),
    sa.UniqueConstraint('url', name=op.f('uq_feed_source_url'))
    )
    with op.batch_alter_table('feed_source', schema=None) as batch_op:
        batch_op.create_index('ix_feed_source_due', ['active', 'next_poll_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_feed_source_opd_id'), ['opd_id'], unique=False)

    op.create_table('feed_item',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('source_id', sa.Integer(), nullable=False),
    sa.Column('item_key', sa.String(length=512), nullable=False),
    sa.Column('url', sa.String(length=2048), nullable=True),
    sa.Column('title', sa.String(length=1000), nullable=True),
    sa.Column('post_id', sa.Integer(), nullable=True),
    sa.Column('skipped', sa.String(length=200), nullable=True),
    sa.Column('seen_at', db.types.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['post_id'], ['post.id'], name=op.f('fk_feed_item_post_id_post'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['source_id'], ['feed_source.id'], name=op.f('fk_feed_item_source_id_feed_source'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_feed_item')),
    sa.UniqueConstraint('source_id', 'item_key', name=op.f('uq_feed_item_source_id_item_key'))
    )

    # Adding a nullable column, or one with a constant default, is a plain ALTER on both
    # engines: no table copy, even for the millions of deliveries.
    with op.batch_alter_table('delivery', schema=None) as batch_op:
        batch_op.add_column(sa.Column('opened_at', db.types.UTCDateTime(timezone=True), nullable=True))
    with op.batch_alter_table('post_opd_stat', schema=None) as batch_op:
        batch_op.add_column(sa.Column('opened', sa.Integer(), server_default=sa.text('0'), nullable=False))


def downgrade() -> None:
    with op.batch_alter_table('post_opd_stat', schema=None) as batch_op:
        batch_op.drop_column('opened')
    with op.batch_alter_table('delivery', schema=None) as batch_op:
        batch_op.drop_column('opened_at')
    op.drop_table('feed_item')
    with op.batch_alter_table('feed_source', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_feed_source_opd_id'))
        batch_op.drop_index('ix_feed_source_due')
    op.drop_table('feed_source')
