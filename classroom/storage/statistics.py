"""Planner statistics kept current while tables fill from empty (PostgreSQL).

PostgreSQL plans a prepared statement for its first five runs with the values given, then
keeps one generic plan if that costs no more. A statement prepared while its table was
nearly empty (a new school's first morning: no visits, no chat yet) keeps a plan that reads
the whole table, and each run reads more of it as the table fills, until an ANALYZE makes
PostgreSQL plan it again. Autovacuum analyses a table after a tenth of it changed, but
looks only once a minute. Recording room entries into a new visits table
(``python -m bench.arrivals --analyse never``) cost PostgreSQL 0.7 ms per entry at first
and 2.4 ms by 16,000 visits, each entry reading all of them; analysed as it doubles, 0.4–0.6
ms throughout.

So each node looks now and then, and analyses a table that has changed by at least as many
rows as it had at its last analysis (at least ``FIRST_CHANGES``): a table that doubled.
That is a few analyses while a table is small and cheap to analyse, and almost none once it
is large, which autovacuum keeps as before. ``ANALYZE (SKIP_LOCKED)`` leaves a table another
node is analysing to it.
"""

from __future__ import annotations

import logging

from sqlalchemy import text

from classroom.storage.database import Database
from classroom.storage.models import Base

log = logging.getLogger(__name__)

FIRST_CHANGES = 100
"""Rows changed in a table never analysed (or analysed empty) before it is analysed."""

_DOUBLED = text(
    """
    SELECT s.relname
    FROM pg_stat_user_tables AS s JOIN pg_class AS c ON c.oid = s.relid
    WHERE s.schemaname = current_schema()
      AND s.relname = ANY(:tables)
      AND s.n_mod_since_analyze >= GREATEST(:first_changes, c.reltuples)
    ORDER BY s.relname
    """
)


async def analyse_doubled_tables(db: Database) -> list[str]:
    """Analyse the tables of the schema that doubled since their last analysis; return
    their names (nothing on SQLite, whose planner keeps no plans across statements)."""
    if db.is_sqlite:
        return []
    tables = sorted(Base.metadata.tables)
    async with db.autocommit() as connection:
        due = list(
            (
                await connection.execute(
                    _DOUBLED, {"tables": tables, "first_changes": FIRST_CHANGES}
                )
            ).scalars()
        )
        for name in due:
            # The name is one of the schema's own tables, as listed above.
            await connection.execute(text(f'ANALYZE (SKIP_LOCKED) "{name}"'))
    if due:
        log.debug("analysed %d tables that doubled", len(due))
    return due
