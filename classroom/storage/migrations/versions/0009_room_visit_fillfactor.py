"""room visits leave room for their heartbeats

Every node rewrites ``seen_at`` of each of its open visits every 20 seconds. With full pages
each rewrite put the new row version on another page and added an entry to every index of
the table, so the visits' index lookups at each room entry walked past more and more dead
versions while many connections were held. Half-full pages let PostgreSQL keep the new
version on the same page (a HOT update: no index entry, pruned on the next visit of the
page). SQLite has no such setting.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-04 17:40:00.000000
"""

from __future__ import annotations

from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER TABLE room_visit SET (fillfactor = 50)")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER TABLE room_visit RESET (fillfactor)")
