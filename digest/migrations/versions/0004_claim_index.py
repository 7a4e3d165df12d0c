"""claim deliveries by (status, id)

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-25

A claim takes queued deliveries in id order, and sending ones whose lease ran
out; an index on (status, id) makes each a range scan that costs the same at
the end of a large mailing as at its start.
"""
from typing import Sequence, Union

from alembic import op

revision: str = "0004"
down_revision: Union[str, Sequence[str], None] = "0003"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    with op.batch_alter_table("deliveries", schema=None) as batch_op:
        batch_op.drop_index("ix_deliveries_status_lease_until")
        batch_op.create_index("ix_deliveries_status_id", ["status", "id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("deliveries", schema=None) as batch_op:
        batch_op.drop_index("ix_deliveries_status_id")
        batch_op.create_index("ix_deliveries_status_lease_until", ["status", "lease_until"], unique=False)
