"""boards: whiteboard documents and their operations, classroom panel pairing

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23 11:20:34.799374
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import classroom.storage.models

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:

    op.create_table(
        "panel_pairing",
        sa.Column("code_hash", sa.String(length=64), nullable=False),
        sa.Column("panel_id", sa.Integer(), nullable=False),
        sa.Column("expires_at", classroom.storage.models.UtcDateTime(), nullable=False),
        sa.Column("used_at", classroom.storage.models.UtcDateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["panel_id"],
            ["person.id"],
            name=op.f("fk_panel_pairing_panel_id_person"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("code_hash", name=op.f("pk_panel_pairing")),
    )
    with op.batch_alter_table("panel_pairing", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_panel_pairing_panel_id"), ["panel_id"], unique=False)

    op.create_table(
        "board",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("lesson_id", sa.Integer(), nullable=False),
        sa.Column("class_id", sa.Integer(), nullable=False),
        sa.Column("subject_id", sa.Integer(), nullable=False),
        sa.Column("starts_at", classroom.storage.models.UtcDateTime(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("snapshot_version", sa.Integer(), nullable=False),
        sa.Column("snapshot", sa.LargeBinary(), nullable=False),
        sa.Column("updated_at", classroom.storage.models.UtcDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["class_id"],
            ["school_class.id"],
            name=op.f("fk_board_class_id_school_class"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["lesson_id"],
            ["lesson_occurrence.id"],
            name=op.f("fk_board_lesson_id_lesson_occurrence"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["subject_id"],
            ["subject.id"],
            name=op.f("fk_board_subject_id_subject"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_board")),
        sa.UniqueConstraint("lesson_id", name=op.f("uq_board_lesson_id")),
    )
    with op.batch_alter_table("board", schema=None) as batch_op:
        batch_op.create_index(
            "ix_board_class_subject_starts", ["class_id", "subject_id", "starts_at"], unique=False
        )

    op.create_table(
        "panel_binding",
        sa.Column("panel_id", sa.Integer(), nullable=False),
        sa.Column("lesson_id", sa.Integer(), nullable=False),
        sa.Column("teacher_id", sa.Integer(), nullable=False),
        sa.Column("bound_at", classroom.storage.models.UtcDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["lesson_id"],
            ["lesson_occurrence.id"],
            name=op.f("fk_panel_binding_lesson_id_lesson_occurrence"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["panel_id"],
            ["person.id"],
            name=op.f("fk_panel_binding_panel_id_person"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["teacher_id"],
            ["person.id"],
            name=op.f("fk_panel_binding_teacher_id_person"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("panel_id", name=op.f("pk_panel_binding")),
    )
    with op.batch_alter_table("panel_binding", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_panel_binding_lesson_id"), ["lesson_id"], unique=False)

    op.create_table(
        "board_op",
        sa.Column("board_id", sa.Integer(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("author_id", sa.Integer(), nullable=False),
        sa.Column("client_id", sa.String(length=64), nullable=True),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("effect", sa.LargeBinary(), nullable=False),
        sa.Column("offset", sa.BigInteger(), nullable=True),
        sa.Column("at", classroom.storage.models.UtcDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["author_id"],
            ["person.id"],
            name=op.f("fk_board_op_author_id_person"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["board_id"], ["board.id"], name=op.f("fk_board_op_board_id_board"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("board_id", "seq", name=op.f("pk_board_op")),
        sa.UniqueConstraint(
            "board_id", "author_id", "client_id", name=op.f("uq_board_op_board_id")
        ),
    )


def downgrade() -> None:

    op.drop_table("board_op")
    with op.batch_alter_table("panel_binding", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_panel_binding_lesson_id"))

    op.drop_table("panel_binding")
    with op.batch_alter_table("board", schema=None) as batch_op:
        batch_op.drop_index("ix_board_class_subject_starts")

    op.drop_table("board")
    with op.batch_alter_table("panel_pairing", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_panel_pairing_panel_id"))

    op.drop_table("panel_pairing")
