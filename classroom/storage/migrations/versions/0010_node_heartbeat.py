"""nodes say they are alive, not each of their visits

Each node rewrote ``seen_at`` of every open visit it held every 20 seconds: with 40,000
held connections that was 2,000 row updates a second, growing with the connections. Now a
node refreshes one row of its own; an open visit is as fresh as its node.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-04 19:20:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import classroom.storage.models

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "node_heartbeat",
        sa.Column("node_id", sa.String(length=128), nullable=False),
        sa.Column("seen_at", classroom.storage.models.UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("node_id", name=op.f("pk_node_heartbeat")),
    )


def downgrade() -> None:
    op.drop_table("node_heartbeat")
