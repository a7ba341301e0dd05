"""The tenant on each segment, copied from its video by a trigger, so search filters segments without a join.

At a million segments a broad word query matches thousands of rows, and checking each match's tenant through
``videos`` was a third of the full-text statement (one index lookup per match). A video's tenant never changes,
so the copy cannot go stale; the trigger sets it on every insert and on any update of ``video_id`` or
``tenant``, whatever the writer sent.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("segments", sa.Column("tenant", sa.Text(), nullable=True))
    op.execute("UPDATE segments s SET tenant = v.tenant FROM videos v WHERE v.id = s.video_id")
    op.alter_column("segments", "tenant", nullable=False)
    op.execute(
        """
        CREATE FUNCTION vidground_segment_tenant() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            NEW.tenant := (SELECT v.tenant FROM videos v WHERE v.id = NEW.video_id);
            RETURN NEW;
        END
        $$
        """
    )
    op.execute(
        "CREATE TRIGGER tr_segments_tenant BEFORE INSERT OR UPDATE OF video_id, tenant ON segments"
        " FOR EACH ROW EXECUTE FUNCTION vidground_segment_tenant()"
    )


def downgrade() -> None:
    op.execute("DROP TRIGGER tr_segments_tenant ON segments")
    op.execute("DROP FUNCTION vidground_segment_tenant()")
    op.drop_column("segments", "tenant")
