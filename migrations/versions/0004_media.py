"""Speech, on-screen text and shots: a ``detail`` JSON per segment (words with times; box and confidence) and a
``shots`` table per video.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("segments", sa.Column("detail", postgresql.JSONB(astext_type=sa.Text()), nullable=True))
    op.create_table(
        "shots",
        sa.Column("id", sa.BigInteger(), autoincrement=True, nullable=False),
        sa.Column("video_id", sa.BigInteger(), nullable=False),
        sa.Column("analysis_id", sa.BigInteger(), nullable=False),
        sa.Column("start_s", sa.Float(), nullable=False),
        sa.Column("end_s", sa.Float(), nullable=False),
        sa.Column("start_frame", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["analysis_id"], ["analyses.id"], name=op.f("fk_shots_analysis_id_analyses"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(["video_id"], ["videos.id"], name=op.f("fk_shots_video_id_videos"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_shots")),
    )
    op.create_index(op.f("ix_shots_analysis_id"), "shots", ["analysis_id"], unique=False)
    op.create_index("ix_shots_video_id_start_s", "shots", ["video_id", "start_s"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_shots_video_id_start_s", table_name="shots")
    op.drop_index(op.f("ix_shots_analysis_id"), table_name="shots")
    op.drop_table("shots")
    op.drop_column("segments", "detail")
