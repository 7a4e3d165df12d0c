"""a send time the editor sets: editions.send_*

Revision ID: 0020_schedule
Revises: 0012_fallback
Create Date: 2026-12-07

An edition (any edition row) approved for a time: send_local is the wall time
the editor chose ("2027-06-28 07:00"), send_zone its IANA zone, send_at the UTC
instant they resolve to (`digest run` queues it from then on), scheduled_by
who set it. All NULL: not scheduled (sent as before, when `digest run` finds
its period due). Every change is also in editor_events (the desk's audit).
"""
from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op

revision: str = "0020_schedule"
down_revision: Union[str, Sequence[str], None] = "0020_announce"  # chained after announce in the andesk merge
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    with op.batch_alter_table("editions", schema=None) as batch_op:
        batch_op.add_column(sa.Column("send_at", sa.DateTime()))
        batch_op.add_column(sa.Column("send_local", sa.String(16)))
        batch_op.add_column(sa.Column("send_zone", sa.String(64)))
        batch_op.add_column(sa.Column("scheduled_by", sa.String(320)))
        batch_op.create_index("ix_editions_send_at", ["send_at"])


def downgrade() -> None:
    with op.batch_alter_table("editions", schema=None) as batch_op:
        batch_op.drop_index("ix_editions_send_at")
        batch_op.drop_column("scheduled_by")
        batch_op.drop_column("send_zone")
        batch_op.drop_column("send_local")
        batch_op.drop_column("send_at")
