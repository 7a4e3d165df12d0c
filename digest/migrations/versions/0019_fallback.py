"""edition items keep their link's origin

Revision ID: 0012_fallback
Revises: 0012_retention
Create Date: 2026-12-07

The origin of an edition item's link ("source", "template", "website",
"resolved": see articles.link_origin), frozen with the link, so the email can
say honestly when a link goes to the organisation's website rather than the
story. Items frozen before this migration are taken as "source".
"""
from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op

revision: str = "0012_fallback"
down_revision: Union[str, Sequence[str], None] = "0012_retention"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    with op.batch_alter_table("edition_items", schema=None) as batch_op:
        batch_op.add_column(sa.Column("link_origin", sa.String(10), nullable=False, server_default="source"))


def downgrade() -> None:
    with op.batch_alter_table("edition_items", schema=None) as batch_op:
        batch_op.drop_column("link_origin")
