"""feed sources, seen feed items, tracked opens"""

from db.migrations.shapes import Index, Table, add_columns, boolean, check, create_tables, created_at, drop_columns, drop_tables, foreign_key, id_key, integer, moment, string, unique

revision: str = '0012'
down_revision: str | None = '0006'

TABLES = (
    Table('feed_source', [
        *id_key(),
        integer('opd_id'),
        string('kind', 16),
        string('url', 2048),
        boolean('active'),
        string('etag', 512, nullable=True),
        string('last_modified', 128, nullable=True),
        moment('next_poll_at', nullable=True),
        moment('last_polled_at', nullable=True),
        moment('last_ok_at', nullable=True),
        integer('failures'),
        string('last_error', 500, nullable=True),
        created_at(),
        check('kind', "kind IN ('rss', 'youtube', 'instagram', 'facebook')"),
        foreign_key('opd_id', 'opd'),
        unique('url'),
    ], [
        Index('ix_feed_source_due', ['active', 'next_poll_at']),
        Index('ix_feed_source_opd_id', ['opd_id']),
    ]),
    Table('feed_item', [
        *id_key(),
        integer('source_id'),
        string('item_key', 512),
        string('url', 2048, nullable=True),
        string('title', 1000, nullable=True),
        integer('post_id', nullable=True),
        string('skipped', 200, nullable=True),
        moment('seen_at'),
        foreign_key('post_id', 'post', ondelete='SET NULL'),
        foreign_key('source_id', 'feed_source', ondelete='CASCADE'),
        unique('source_id', 'item_key'),
    ]),
)
DELIVERY = (moment('opened_at', nullable=True),)
POST_OPD_STAT = (integer('opened', default='0'),)


def upgrade() -> None:
    create_tables(*TABLES)
    # Adding a nullable column, or one with a constant default, is a plain ALTER on both
    # engines: no table copy, even for the millions of deliveries.
    add_columns('delivery', DELIVERY)
    add_columns('post_opd_stat', POST_OPD_STAT)


def downgrade() -> None:
    drop_columns('post_opd_stat', POST_OPD_STAT)
    drop_columns('delivery', DELIVERY)
    drop_tables(*TABLES)
