"""roster and registration counts per OPD and status (opd_people), kept by triggers"""

import sqlalchemy as sa
from alembic import op

revision: str = "0023"
down_revision: str | None = "0022"

# Why triggers (issue 11): ASN and chat identities change in a dozen places (the roster import,
# registration, opt-out, erasure, retention, and the delivery paths that mark a chat
# unreachable on a 403 or reachable again on a tap), several of them hot. The database keeps
# the counts in step with every one of them, raw SQL and foreign-key actions included; Python
# hooks in each would drift the day a new writer forgets one. Each trigger recounts the one
# group (OPD, status) a changed row belongs to (about 140 ASN, through ``ix_asn_opd_active``),
# so the counts are a recount, never a running sum that could drift.
#
# On SQLite a batch migration that recreates ``asn`` or ``chat_identity`` drops their
# triggers: such a migration must create them again (``tests/db/test_people.py`` fails if
# they are missing at head).

# One group's counts, as the participation report defines them: on the roster = active;
# registered = active, not opted out, with at least one reachable chat identity. One pass over
# the group's ASN (``ix_asn_opd_active``), each probed for an identity by its own index; a
# correlated count, not EXISTS or IN, which PostgreSQL may turn into a hash of every
# identity: that made each recount cost as much as the whole table, and a roster import of
# 2,000 ASN several times slower.
REACHABLE = "(SELECT count(*) FROM chat_identity AS i WHERE i.asn_id = a.id AND i.reachable) > 0"


def recount(groups: str) -> str:
    """Recount the groups ``groups`` selects (columns ``opd_id``, ``status``)."""
    return (
        "INSERT INTO opd_people (opd_id, status, roster, registered) "
        "SELECT g.opd_id, g.status, count(a.id), "
        f"count(CASE WHEN a.opted_out_at IS NULL AND {REACHABLE} THEN 1 END) "
        f"FROM ({groups}) AS g LEFT JOIN asn AS a ON a.opd_id = g.opd_id "
        "AND coalesce(a.status, '') = g.status AND a.active "
        "WHERE true GROUP BY g.opd_id, g.status "
        "ON CONFLICT (opd_id, status) DO UPDATE "
        "SET roster = excluded.roster, registered = excluded.registered"
    )


def of_asn(row: str) -> str:
    return f"SELECT {row}.opd_id AS opd_id, coalesce({row}.status, '') AS status"


def of_identity(row: str) -> str:
    return f"SELECT opd_id, coalesce(status, '') AS status FROM asn WHERE id = {row}.asn_id"


ASN_CHANGED = (
    "OLD.opd_id IS DISTINCT FROM NEW.opd_id OR OLD.status IS DISTINCT FROM NEW.status "
    "OR OLD.active IS DISTINCT FROM NEW.active "
    "OR (OLD.opted_out_at IS NULL) <> (NEW.opted_out_at IS NULL)"
)
IDENTITY_CHANGED = (
    "OLD.asn_id IS DISTINCT FROM NEW.asn_id OR OLD.reachable IS DISTINCT FROM NEW.reachable"
)
# (table, event, WHEN condition or None, rows whose groups to recount)
TRIGGERS = [
    ("asn", "INSERT", None, [of_asn("NEW")]),
    ("asn", "UPDATE", ASN_CHANGED, [of_asn("OLD"), of_asn("NEW")]),
    ("asn", "DELETE", None, [of_asn("OLD")]),
    ("chat_identity", "INSERT", None, [of_identity("NEW")]),
    ("chat_identity", "UPDATE", IDENTITY_CHANGED, [of_identity("OLD"), of_identity("NEW")]),
    ("chat_identity", "DELETE", None, [of_identity("OLD")]),
]


def _name(table: str, event: str) -> str:
    return f"opd_people_{table}_{event.lower()}"


def _sqlite_triggers() -> None:
    for table, event, when, groups in TRIGGERS:
        condition = f" WHEN {when.replace('IS DISTINCT FROM', 'IS NOT')}" if when else ""
        body = "; ".join(recount(g) for g in groups)
        op.execute(
            f"CREATE TRIGGER {_name(table, event)} AFTER {event} ON {table} FOR EACH ROW"
            f"{condition} BEGIN {body}; END"
        )


def _postgresql_triggers() -> None:
    # Locked, then recounted in a statement of its own: under READ COMMITTED that statement
    # sees every transaction that changed the group and committed while this one waited, so
    # two concurrent changes to one OPD cannot each write a count missing the other's.
    op.execute(
        "CREATE FUNCTION opd_people_recount(o integer, s text) RETURNS void "
        "LANGUAGE plpgsql AS $$ BEGIN "
        "INSERT INTO opd_people (opd_id, status, roster, registered) VALUES (o, s, 0, 0) "
        "ON CONFLICT (opd_id, status) DO NOTHING; "
        "PERFORM 1 FROM opd_people WHERE opd_id = o AND status = s FOR UPDATE; "
        f"{recount('SELECT o AS opd_id, s AS status')}; "
        "END $$"
    )
    for table, event, when, groups in TRIGGERS:
        calls = " ".join(
            f"PERFORM opd_people_recount(g.opd_id, g.status) FROM ({g}) AS g;" for g in groups
        )
        op.execute(
            f"CREATE FUNCTION {_name(table, event)}() RETURNS trigger LANGUAGE plpgsql AS "
            f"$$ BEGIN {calls} RETURN NULL; END $$"
        )
        condition = f" WHEN ({when})" if when else ""
        op.execute(
            f"CREATE TRIGGER {_name(table, event)} AFTER {event} ON {table} FOR EACH ROW"
            f"{condition} EXECUTE FUNCTION {_name(table, event)}()"
        )


def upgrade() -> None:
    op.create_table(
        "opd_people",
        sa.Column("opd_id", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=8), nullable=False),
        sa.Column("roster", sa.Integer(), nullable=False),
        sa.Column("registered", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["opd_id"], ["opd.id"], name=op.f("fk_opd_people_opd_id_opd"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("opd_id", "status", name=op.f("pk_opd_people")),
    )
    op.execute(recount("SELECT DISTINCT opd_id, coalesce(status, '') AS status FROM asn"))
    if op.get_bind().dialect.name == "postgresql":
        _postgresql_triggers()
    else:
        _sqlite_triggers()


def downgrade() -> None:
    postgresql = op.get_bind().dialect.name == "postgresql"
    for table, event, _, _ in TRIGGERS:
        op.execute(f"DROP TRIGGER {_name(table, event)}" + (f" ON {table}" if postgresql else ""))
        if postgresql:
            op.execute(f"DROP FUNCTION {_name(table, event)}()")
    if postgresql:
        op.execute("DROP FUNCTION opd_people_recount(integer, text)")
    op.drop_table("opd_people")
