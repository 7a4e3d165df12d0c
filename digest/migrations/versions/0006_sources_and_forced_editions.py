"""configured sources' health, where an article's link came from, forced editions

Revision ID: 0006
Revises: 0005a
Create Date: 2026-11-30

sources: one row per [[sources]] name (last fetched, last success, last
error, items last seen, newest item, ETag / Last-Modified for conditional
GET, a permanent redirect). articles.link_origin: "source", "template" or
"website" (a listing export's stand-in link). editions.forced_*: who sent an
edition the gate held, and why.
"""
from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op


revision: str = "0006"
down_revision: Union[str, Sequence[str], None] = "0005a"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    op.create_table(
        "sources",
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("location", sa.String(2000), nullable=False),
        sa.Column("kind", sa.String(20)),
        sa.Column("last_fetched_at", sa.DateTime()),
        sa.Column("last_success_at", sa.DateTime()),
        sa.Column("last_error", sa.String(500)),
        sa.Column("items_last_seen", sa.Integer()),
        sa.Column("newest_item_at", sa.DateTime()),
        sa.Column("etag", sa.String(500)),
        sa.Column("last_modified", sa.String(100)),
        sa.Column("moved_to", sa.String(2000)),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_sources")),
    )
    with op.batch_alter_table("articles", schema=None) as batch_op:
        batch_op.add_column(sa.Column("link_origin", sa.String(10), nullable=False, server_default="source"))
    with op.batch_alter_table("editions", schema=None) as batch_op:
        batch_op.add_column(sa.Column("forced_by", sa.String(200)))
        batch_op.add_column(sa.Column("forced_reason", sa.String(500)))
        batch_op.add_column(sa.Column("forced_at", sa.DateTime()))


def downgrade() -> None:
    with op.batch_alter_table("editions", schema=None) as batch_op:
        batch_op.drop_column("forced_at")
        batch_op.drop_column("forced_reason")
        batch_op.drop_column("forced_by")
    with op.batch_alter_table("articles", schema=None) as batch_op:
        batch_op.drop_column("link_origin")
    op.drop_table("sources")
