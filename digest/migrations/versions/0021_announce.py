"""announcements: one-off messages to an audience, saved audiences, news opt-out, relay replies kept

Revision ID: 0020_announce
Revises: 0020_welsh
Create Date: 2026-12-07

An announcement is sent as an edition row of its own kind (editions.kind
"news" or "statutory"; "edition" for the period's digest), so variants,
deliveries, the sender, `digest report` and `digest status` serve it as they
are. What is particular to it lives in `announcements`; `saved_audiences`
names audiences an editor reuses. subscribers.news_announcements: a member may
turn off news announcements and stay subscribed (statutory notices still come).
deliveries.relay_reply: the relay's final answer, kept for statutory notices
as evidence for the company secretary.
"""
from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op

revision: str = "0020_announce"
down_revision: Union[str, Sequence[str], None] = "0020_welsh"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    with op.batch_alter_table("editions", schema=None) as batch_op:
        batch_op.add_column(sa.Column("kind", sa.String(12), nullable=False, server_default="edition"))
    with op.batch_alter_table("subscribers", schema=None) as batch_op:
        batch_op.add_column(sa.Column("news_announcements", sa.Boolean(), nullable=False, server_default=sa.true()))
    with op.batch_alter_table("deliveries", schema=None) as batch_op:
        batch_op.add_column(sa.Column("relay_reply", sa.String(500)))
    op.create_table(
        "announcements",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("subject", sa.String(500), nullable=False),
        sa.Column("preheader", sa.String(500), nullable=False, server_default=""),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("cta_label", sa.String(200), nullable=False, server_default=""),
        sa.Column("cta_url", sa.String(2000), nullable=False, server_default=""),
        sa.Column("picture_url", sa.String(2000), nullable=False, server_default=""),
        sa.Column("picture_alt", sa.String(500), nullable=False, server_default=""),
        sa.Column("picture_width", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("picture_height", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("articles", sa.String(1000), nullable=False, server_default=""),
        sa.Column("audience", sa.String(1000), nullable=False),
        sa.Column("kind", sa.String(12), nullable=False, server_default="news"),
        sa.Column("public", sa.Boolean(), nullable=False, server_default=sa.false()),
        sa.Column("state", sa.String(12), nullable=False, server_default="draft"),
        sa.Column("created_by", sa.String(320), nullable=False, server_default=""),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.Column("approved_by", sa.String(320)),
        sa.Column("approved_at", sa.DateTime()),
        sa.Column("queued_at", sa.DateTime()),
        sa.Column("edition_id", sa.Integer()),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_announcements")),
    )
    op.create_table(
        "saved_audiences",
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("spec", sa.String(1000), nullable=False),
        sa.Column("created_by", sa.String(320), nullable=False, server_default=""),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_saved_audiences")),
    )


def downgrade() -> None:
    op.drop_table("saved_audiences")
    op.drop_table("announcements")
    with op.batch_alter_table("deliveries", schema=None) as batch_op:
        batch_op.drop_column("relay_reply")
    with op.batch_alter_table("subscribers", schema=None) as batch_op:
        batch_op.drop_column("news_announcements")
    with op.batch_alter_table("editions", schema=None) as batch_op:
        batch_op.drop_column("kind")
