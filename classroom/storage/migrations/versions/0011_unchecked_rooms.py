"""the absence check finds the rooms it has to check by an index

Every node looks for live rooms whose absence check has not run, every few seconds. Rooms
are kept after their lessons, so without an index that look-up reads every room of the
year; a partial index holds only the few waiting to be checked.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-04 20:10:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

UNCHECKED = sa.text("live_at IS NOT NULL AND absence_checked_at IS NULL")


def upgrade() -> None:
    op.create_index(
        "ix_lesson_room_unchecked",
        "lesson_room",
        ["lesson_id"],
        postgresql_where=UNCHECKED,
        sqlite_where=UNCHECKED,
    )


def downgrade() -> None:
    op.drop_index("ix_lesson_room_unchecked", table_name="lesson_room")
