"""articles' pictures

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-30

An article's picture (found at ingest, measured once) and the copy frozen
into each edition item: JSON text, {"alt", "problem", "sources": [[url,
width, height, bytes, measured], ...]} (models.ArticleImage). NULL: none.
"""
from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: Union[str, Sequence[str], None] = "0009"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    with op.batch_alter_table("articles", schema=None) as batch_op:
        batch_op.add_column(sa.Column("image", sa.Text(), nullable=True))
    with op.batch_alter_table("edition_items", schema=None) as batch_op:
        batch_op.add_column(sa.Column("image", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("edition_items", schema=None) as batch_op:
        batch_op.drop_column("image")
    with op.batch_alter_table("articles", schema=None) as batch_op:
        batch_op.drop_column("image")
