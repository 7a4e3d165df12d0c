"""an approved announcement's send time: announcements.send_*

Revision ID: 0023_anntime
Revises: 0020_schedule
Create Date: 2026-12-07

An announcement is sent as an edition row made only when it is queued, so its
send time is kept on the announcement itself, with the same columns and
meaning as editions.send_* (0020_schedule): send_local the wall time chosen,
send_zone its IANA zone, send_at the UTC instant (`digest run` queues and
sends it from then on), scheduled_by who set it. All NULL: not scheduled.
"""
from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op

revision: str = "0023_anntime"
down_revision: Union[str, Sequence[str], None] = "0020_schedule"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    with op.batch_alter_table("announcements", schema=None) as batch_op:
        batch_op.add_column(sa.Column("send_at", sa.DateTime()))
        batch_op.add_column(sa.Column("send_local", sa.String(16)))
        batch_op.add_column(sa.Column("send_zone", sa.String(64)))
        batch_op.add_column(sa.Column("scheduled_by", sa.String(320)))
        batch_op.create_index("ix_announcements_send_at", ["send_at"])


def downgrade() -> None:
    with op.batch_alter_table("announcements", schema=None) as batch_op:
        batch_op.drop_index("ix_announcements_send_at")
        batch_op.drop_column("scheduled_by")
        batch_op.drop_column("send_zone")
        batch_op.drop_column("send_local")
        batch_op.drop_column("send_at")
