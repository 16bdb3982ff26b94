"""board snapshots in a table of their own

The snapshot of a long lesson's board is megabytes; kept in the ``board`` row, every write
of the row (one per stored batch of operations) rewrote it on SQLite. Now the row holds the
version only and ``board_snapshot`` the document, written every 500 operations.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-23 15:10:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "board_snapshot",
        sa.Column("board_id", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.ForeignKeyConstraint(
            ["board_id"],
            ["board.id"],
            name=op.f("fk_board_snapshot_board_id_board"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("board_id", name=op.f("pk_board_snapshot")),
    )
    op.execute(
        "INSERT INTO board_snapshot (board_id, version, data) "
        "SELECT id, snapshot_version, snapshot FROM board"
    )
    # Not a batch (a copy of the table) on SQLite: dropping the old ``board`` would delete
    # its operations and snapshots through their cascading foreign keys.
    op.execute("ALTER TABLE board DROP COLUMN snapshot")
    op.execute("ALTER TABLE board DROP COLUMN snapshot_version")


def downgrade() -> None:
    op.add_column(
        "board", sa.Column("snapshot_version", sa.Integer(), nullable=False, server_default="0")
    )
    op.add_column(
        "board",
        sa.Column("snapshot", sa.LargeBinary(), nullable=False, server_default=sa.text("''")),
    )
    op.execute(
        "UPDATE board SET snapshot_version = (SELECT version FROM board_snapshot "
        "WHERE board_snapshot.board_id = board.id), snapshot = (SELECT data FROM "
        "board_snapshot WHERE board_snapshot.board_id = board.id)"
    )
    op.drop_table("board_snapshot")
