"""Per-region household counters kept by triggers, and region indexes in id order

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-08

``region_household_counts`` holds, per village, district and regency and per status, how many
households there are. Triggers on ``households`` keep it exact in the same transaction as every
write, whichever code path or bulk load does it: row triggers on SQLite, statement triggers with
transition tables on PostgreSQL (one aggregated upsert per statement, COPY included). A province and
the country are read as the sum of their regencies' rows (docs/scale.md, "Counts and pages").

The expression indexes ``(substr(village_code, 1, n), id)`` serve a page of any province, regency
or district in id order straight from the index; ``(village_code, id)`` does it for a village and
replaces the index on ``village_code`` alone.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0019"
down_revision: str | None = "0018"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


SQLITE_TRIGGERS = (
    """
CREATE TRIGGER households_counted_insert AFTER INSERT ON households
BEGIN
    INSERT INTO region_household_counts (level, region_code, status, households)
    VALUES (2, substr(NEW.village_code, 1, 5), NEW.status, 1),
           (3, substr(NEW.village_code, 1, 8), NEW.status, 1),
           (4, NEW.village_code, NEW.status, 1)
    ON CONFLICT (level, region_code, status) DO UPDATE SET households = households + 1;
END""",
    """
CREATE TRIGGER households_counted_delete AFTER DELETE ON households
BEGIN
    INSERT INTO region_household_counts (level, region_code, status, households)
    VALUES (2, substr(OLD.village_code, 1, 5), OLD.status, -1),
           (3, substr(OLD.village_code, 1, 8), OLD.status, -1),
           (4, OLD.village_code, OLD.status, -1)
    ON CONFLICT (level, region_code, status) DO UPDATE SET households = households - 1;
END""",
    """
CREATE TRIGGER households_counted_update AFTER UPDATE OF village_code, status ON households
WHEN OLD.village_code IS NOT NEW.village_code OR OLD.status IS NOT NEW.status
BEGIN
    INSERT INTO region_household_counts (level, region_code, status, households)
    VALUES (2, substr(OLD.village_code, 1, 5), OLD.status, -1),
           (3, substr(OLD.village_code, 1, 8), OLD.status, -1),
           (4, OLD.village_code, OLD.status, -1)
    ON CONFLICT (level, region_code, status) DO UPDATE SET households = households - 1;
    INSERT INTO region_household_counts (level, region_code, status, households)
    VALUES (2, substr(NEW.village_code, 1, 5), NEW.status, 1),
           (3, substr(NEW.village_code, 1, 8), NEW.status, 1),
           (4, NEW.village_code, NEW.status, 1)
    ON CONFLICT (level, region_code, status) DO UPDATE SET households = households + 1;
END""",
)
SQLITE_TRIGGER_NAMES = ("households_counted_insert", "households_counted_delete", "households_counted_update")

#: One aggregated upsert per statement, the rows in key order (so two transactions lock shared rows in
#: the same order). ``{changes}`` is a query of (village_code, status, delta) over the transition tables.
_POSTGRESQL_APPLY = """
    INSERT INTO region_household_counts (level, region_code, status, households)
    SELECT l.level, substr(c.village_code, 1, l.width), c.status, sum(c.delta)
    FROM ({changes}) AS c CROSS JOIN (VALUES (2, 5), (3, 8), (4, 13)) AS l (level, width)
    GROUP BY 1, 2, 3
    HAVING sum(c.delta) <> 0
    ORDER BY 1, 2, 3
    ON CONFLICT (level, region_code, status)
    DO UPDATE SET households = region_household_counts.households + excluded.households;
"""
POSTGRESQL_FUNCTIONS = {
    "siks_count_inserted_households": "SELECT village_code, status, 1 AS delta FROM new_rows",
    "siks_count_deleted_households": "SELECT village_code, status, -1 AS delta FROM old_rows",
    "siks_count_updated_households": (
        "SELECT n.village_code, n.status, 1 AS delta FROM new_rows n JOIN old_rows o ON o.id = n.id "
        "WHERE o.village_code IS DISTINCT FROM n.village_code OR o.status IS DISTINCT FROM n.status "
        "UNION ALL "
        "SELECT o.village_code, o.status, -1 AS delta FROM old_rows o JOIN new_rows n ON n.id = o.id "
        "WHERE o.village_code IS DISTINCT FROM n.village_code OR o.status IS DISTINCT FROM n.status"
    ),
}
POSTGRESQL_TRIGGERS = {
    "households_counted_insert": "AFTER INSERT ON households REFERENCING NEW TABLE AS new_rows "
    "FOR EACH STATEMENT EXECUTE FUNCTION siks_count_inserted_households()",
    "households_counted_delete": "AFTER DELETE ON households REFERENCING OLD TABLE AS old_rows "
    "FOR EACH STATEMENT EXECUTE FUNCTION siks_count_deleted_households()",
    "households_counted_update": "AFTER UPDATE ON households REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows "
    "FOR EACH STATEMENT EXECUTE FUNCTION siks_count_updated_households()",
    "households_counted_truncate": "AFTER TRUNCATE ON households "
    "FOR EACH STATEMENT EXECUTE FUNCTION siks_count_truncated_households()",
}

#: Every row recomputed from the households (the migration's first fill; ``siks counts rebuild`` runs the same).
FILL = """
INSERT INTO region_household_counts (level, region_code, status, households)
SELECT l.level, substr(h.village_code, 1, l.width), h.status, count(*)
FROM households h CROSS JOIN (SELECT 2 AS level, 5 AS width UNION ALL SELECT 3, 8 UNION ALL SELECT 4, 13) l
GROUP BY l.level, substr(h.village_code, 1, l.width), h.status
"""

REGION_INDEXES = (("ix_households_province_id", 2), ("ix_households_regency_id", 5), ("ix_households_district_id", 8))


def upgrade() -> None:
    postgresql = op.get_context().dialect.name == "postgresql"
    code = sa.String(length=13).with_variant(sa.String(length=13, collation="C"), "postgresql")
    op.create_table(
        "region_household_counts",
        sa.Column("level", sa.SmallInteger(), nullable=False),
        sa.Column("region_code", code, nullable=False),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("households", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("level", "region_code", "status"),
    )
    for name, width in REGION_INDEXES:
        op.create_index(name, "households", [sa.text(f"substr(village_code, 1, {width})"), "id"], unique=False)
    op.create_index("ix_households_village_id", "households", ["village_code", "id"], unique=False)
    op.drop_index("ix_households_village_code", table_name="households")
    op.execute(FILL)
    if postgresql:
        for function, changes in POSTGRESQL_FUNCTIONS.items():
            op.execute(
                f"CREATE FUNCTION {function}() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
                f"{_POSTGRESQL_APPLY.format(changes=changes)} RETURN NULL; END $$"
            )
        op.execute(
            "CREATE FUNCTION siks_count_truncated_households() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
            "DELETE FROM region_household_counts; RETURN NULL; END $$"
        )
        for trigger, definition in POSTGRESQL_TRIGGERS.items():
            op.execute(f"CREATE TRIGGER {trigger} {definition}")
    else:
        for trigger in SQLITE_TRIGGERS:
            op.execute(trigger)


def downgrade() -> None:
    if op.get_context().dialect.name == "postgresql":
        for trigger in POSTGRESQL_TRIGGERS:
            op.execute(f"DROP TRIGGER {trigger} ON households")
        for function in (*POSTGRESQL_FUNCTIONS, "siks_count_truncated_households"):
            op.execute(f"DROP FUNCTION {function}()")
    else:
        for trigger in SQLITE_TRIGGER_NAMES:
            op.execute(f"DROP TRIGGER {trigger}")
    op.create_index("ix_households_village_code", "households", ["village_code"], unique=False)
    op.drop_index("ix_households_village_id", table_name="households")
    for name, _width in REGION_INDEXES:
        op.drop_index(name, table_name="households")
    op.drop_table("region_household_counts")
