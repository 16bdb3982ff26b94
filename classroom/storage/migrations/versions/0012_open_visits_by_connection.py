"""a dropped connection finds its open visits by an index

A connection that drops or leaves closes its open visits by its connection id. Visits are
kept for the attendance of every lesson, so without an index each disconnect read the
whole table; a partial index holds only the open ones.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-06 23:25:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

OPEN = sa.text("left_at IS NULL")


def upgrade() -> None:
    op.create_index(
        "ix_room_visit_open_connection",
        "room_visit",
        ["connection_id"],
        postgresql_where=OPEN,
        sqlite_where=OPEN,
    )


def downgrade() -> None:
    op.drop_index("ix_room_visit_open_connection", table_name="room_visit")
