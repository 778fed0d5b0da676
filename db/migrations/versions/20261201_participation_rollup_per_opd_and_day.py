"""participation rollup per OPD and UTC day of approval (opd_day_stat), backfilled from post_opd_stat"""

from alembic import op

from db.migrations.shapes import Table, counters, day, foreign_key, integer, primary_key

revision: str = "0021"
down_revision: str | None = "0020"

# The UTC date of the post's approval, as ``db.delivery.counters.approval_day`` computes it
# (SQLite keeps naive UTC text). Written out here, as a migration must not change with the code.
DAY = {
    "postgresql": "CAST(timezone('UTC', post.approved_at) AS DATE)",
    "sqlite": "date(post.approved_at)",
}

OPD_DAY_STAT = Table("opd_day_stat", [
    day("day"),
    integer("opd_id"),
    *counters("delivered", "liked", "shared", "participated", "opened"),
    foreign_key("opd_id", "opd"),
    primary_key("day", "opd_id"),
])


def upgrade() -> None:
    OPD_DAY_STAT.create()
    # One grouped pass over the counters (about 63 thousand rows for a seeded year: well
    # under a second on either engine), not over the deliveries.
    approval_day = DAY[op.get_bind().dialect.name]
    op.execute(
        "INSERT INTO opd_day_stat (day, opd_id, delivered, liked, shared, participated, opened) "
        f"SELECT {approval_day}, s.opd_id, SUM(s.delivered), SUM(s.liked), SUM(s.shared), "
        "SUM(s.participated), SUM(s.opened) "
        "FROM post_opd_stat AS s JOIN post ON post.id = s.post_id "
        f"WHERE post.approved_at IS NOT NULL GROUP BY {approval_day}, s.opd_id"
    )


def downgrade() -> None:
    OPD_DAY_STAT.drop()
