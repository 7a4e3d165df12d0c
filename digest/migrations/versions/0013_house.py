"""one list of editors: who is told of what

Revision ID: 0012_house
Revises: 0011
Create Date: 2026-12-07

The desk's editors are the one list of editors; `notify` says which notices
each gets ("held": an edition the gate held), comma-separated, "" for none.
Editors already on the desk are told of held editions from now on, as the
addresses of [organisation] editors were (the config seeds the list).
"""
from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op

revision: str = "0012_house"
down_revision: Union[str, Sequence[str], None] = "0012_providers"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    with op.batch_alter_table("editors", schema=None) as batch_op:
        batch_op.add_column(sa.Column("notify", sa.String(100), nullable=False, server_default="held"))


def downgrade() -> None:
    with op.batch_alter_table("editors", schema=None) as batch_op:
        batch_op.drop_column("notify")
