"""neutrality guards: approvals with the neutrality tick, the regency's official accounts

``post_approval``: one row per approver's neutrality confirmation of a post (two different
approvers in a campaign period). ``official_account``: the allow-list of the regency's accounts
that a post's link is checked against at review.
"""

import sqlalchemy as sa
from alembic import op

import db.types

revision: str = '0016'
down_revision: str | None = '0015'


def upgrade() -> None:
    op.create_table('post_approval',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('post_id', sa.Integer(), nullable=False),
    sa.Column('approver', sa.String(length=64), nullable=False),
    sa.Column('admin_id', sa.Integer(), nullable=True),
    sa.Column('neutral', sa.Boolean(), nullable=False),
    sa.Column('warnings', sa.String(length=4000), nullable=True),
    sa.Column('approved_at', db.types.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['admin_id'], ['admin.id'], name=op.f('fk_post_approval_admin_id_admin')),
    sa.ForeignKeyConstraint(['post_id'], ['post.id'], name=op.f('fk_post_approval_post_id_post')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_post_approval')),
    sa.UniqueConstraint('post_id', 'approver', name=op.f('uq_post_approval_post_id_approver'))
    )
    with op.batch_alter_table('post_approval', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_post_approval_post_id'), ['post_id'], unique=False)

    op.create_table('official_account',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('opd_id', sa.Integer(), nullable=True),
    sa.Column('platform', sa.String(length=16), nullable=False),
    sa.Column('handle', sa.String(length=255), nullable=False),
    sa.Column('created_at', db.types.UTCDateTime(timezone=True), nullable=False),
    sa.CheckConstraint("platform IN ('instagram', 'facebook', 'tiktok', 'x', 'youtube', 'web')", name=op.f('ck_official_account_platform')),
    sa.ForeignKeyConstraint(['opd_id'], ['opd.id'], name=op.f('fk_official_account_opd_id_opd')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_official_account')),
    sa.UniqueConstraint('platform', 'handle', name=op.f('uq_official_account_platform_handle'))
    )
    with op.batch_alter_table('official_account', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_official_account_opd_id'), ['opd_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('official_account', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_official_account_opd_id'))
    op.drop_table('official_account')
    with op.batch_alter_table('post_approval', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_post_approval_post_id'))
    op.drop_table('post_approval')
