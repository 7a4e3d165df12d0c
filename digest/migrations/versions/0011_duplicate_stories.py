"""one story from two sources

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-30

The same story read from a feed and from a listing export (which has no guid
or link of its own) is one article: the other copy is kept, for its source's
health (the unattended week's staleness check counts it), with duplicate_of
pointing at the copy members get. NULL: an article in its own right.
"""
from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: Union[str, Sequence[str], None] = "0010"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    with op.batch_alter_table("articles", schema=None) as batch_op:
        batch_op.add_column(sa.Column("duplicate_of", sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("articles", schema=None) as batch_op:
        batch_op.drop_column("duplicate_of")
