"""recordings: lesson recordings (WebM files under the data folder)

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-01 10:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import classroom.storage.models

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "recording",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("lesson_id", sa.Integer(), nullable=False),
        sa.Column("person_id", sa.Integer(), nullable=False),
        sa.Column("path", sa.String(length=255), nullable=False),
        sa.Column("started_at", classroom.storage.models.UtcDateTime(), nullable=False),
        sa.Column("ended_at", classroom.storage.models.UtcDateTime(), nullable=True),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("duration", sa.Float(), nullable=False),
        sa.Column("start_offset", sa.BigInteger(), nullable=True),
        sa.ForeignKeyConstraint(
            ["lesson_id"],
            ["lesson_occurrence.id"],
            name=op.f("fk_recording_lesson_id_lesson_occurrence"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["person_id"],
            ["person.id"],
            name=op.f("fk_recording_person_id_person"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_recording")),
    )
    with op.batch_alter_table("recording", schema=None) as batch_op:
        batch_op.create_index(
            "ix_recording_lesson_started", ["lesson_id", "started_at"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("recording", schema=None) as batch_op:
        batch_op.drop_index("ix_recording_lesson_started")
    op.drop_table("recording")
