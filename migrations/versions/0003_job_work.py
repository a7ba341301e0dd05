"""What each job's model work amounted to: frames decoded for the model and model passes (for /metrics).

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("jobs", sa.Column("frames_decoded", sa.Integer(), nullable=True))
    op.add_column("jobs", sa.Column("model_passes", sa.Integer(), nullable=True))
    op.create_index(op.f("ix_jobs_finished_at"), "jobs", ["finished_at"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_jobs_finished_at"), table_name="jobs")
    op.drop_column("jobs", "model_passes")
    op.drop_column("jobs", "frames_decoded")
