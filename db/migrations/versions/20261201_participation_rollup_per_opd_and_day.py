"""participation rollup per OPD and UTC day of approval (opd_day_stat), backfilled from post_opd_stat"""

import sqlalchemy as sa
from alembic import op

revision: str = "0021"
down_revision: str | None = "0020"

# The UTC date of the post's approval, as ``db.delivery.counters.approval_day`` computes it
# (SQLite keeps naive UTC text). Written out here, as a migration must not change with the code.
DAY = {
    "postgresql": "CAST(timezone('UTC', post.approved_at) AS DATE)",
    "sqlite": "date(post.approved_at)",
}


def upgrade() -> None:
    counts = ("delivered", "liked", "shared", "participated", "opened")
    op.create_table(
        "opd_day_stat",
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("opd_id", sa.Integer(), nullable=False),
        *(sa.Column(name, sa.Integer(), nullable=False) for name in counts),
        sa.ForeignKeyConstraint(["opd_id"], ["opd.id"], name=op.f("fk_opd_day_stat_opd_id_opd")),
        sa.PrimaryKeyConstraint("day", "opd_id", name=op.f("pk_opd_day_stat")),
    )
    # One grouped pass over the counters (about 63 thousand rows for a seeded year: well
    # under a second on either engine), not over the deliveries.
    day = DAY[op.get_bind().dialect.name]
    op.execute(
        "INSERT INTO opd_day_stat (day, opd_id, delivered, liked, shared, participated, opened) "
        f"SELECT {day}, s.opd_id, SUM(s.delivered), SUM(s.liked), SUM(s.shared), "
        "SUM(s.participated), SUM(s.opened) "
        "FROM post_opd_stat AS s JOIN post ON post.id = s.post_id "
        f"WHERE post.approved_at IS NOT NULL GROUP BY {day}, s.opd_id"
    )


def downgrade() -> None:
    op.drop_table("opd_day_stat")
