"""neutrality guards: approvals with the neutrality tick, the regency's official accounts

``post_approval``: one row per approver's neutrality confirmation of a post (two different
approvers in a campaign period). ``official_account``: the allow-list of the regency's accounts
that a post's link is checked against at review.
"""

from db.migrations.shapes import Index, Table, boolean, check, created_at, foreign_key, id_key, integer, moment, string, table_migration, unique

revision: str = '0016'
down_revision: str | None = '0015'

upgrade, downgrade = table_migration(
    Table('post_approval', [
        *id_key(),
        integer('post_id'),
        string('approver', 64),
        integer('admin_id', nullable=True),
        boolean('neutral'),
        string('warnings', 4000, nullable=True),
        moment('approved_at'),
        foreign_key('admin_id', 'admin'),
        foreign_key('post_id', 'post'),
        unique('post_id', 'approver'),
    ], [Index('ix_post_approval_post_id', ['post_id'])]),
    Table('official_account', [
        *id_key(),
        integer('opd_id', nullable=True),
        string('platform', 16),
        string('handle', 255),
        created_at(),
        check('platform', "platform IN ('instagram', 'facebook', 'tiktok', 'x', 'youtube', 'web')"),
        foreign_key('opd_id', 'opd'),
        unique('platform', 'handle'),
    ], [Index('ix_official_account_opd_id', ['opd_id'])]),
)
