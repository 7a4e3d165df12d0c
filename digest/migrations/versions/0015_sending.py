"""who holds a claimed delivery (the lease's fencing token)

Revision ID: 0012_sending
Revises: 0012_house
Create Date: 2026-12-07

A sender run claims deliveries under a token of its own and renews their
lease while it lives; an outcome is recorded only while the delivery is
still `sending` under that token. A run whose lease ran out (it stalled, and
another sender took its deliveries over) can no longer overwrite what the
new holder records. NULL: never claimed, or claimed before this migration.
"""
from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op

revision: str = "0012_sending"
down_revision: Union[str, Sequence[str], None] = "0012_i18n"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    with op.batch_alter_table("deliveries", schema=None) as batch_op:
        batch_op.add_column(sa.Column("claimed_by", sa.String(32), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("deliveries", schema=None) as batch_op:
        batch_op.drop_column("claimed_by")
