"""reports that came back (bounces, complaints, unsubscribes by mail) and aggregate clicks

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-30

inbound_reports: one row per returned message, keyed by its Message-ID, so
reading the same mailbox or file again changes nothing. clicks: one row per
followed article link, naming the edition, article and variant, never the
member (and no address, no IP).
"""
from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: Union[str, Sequence[str], None] = "0007"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    op.create_table(
        "inbound_reports",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("report_key", sa.String(length=300), nullable=False),
        sa.Column("kind", sa.String(length=12), nullable=False),
        sa.Column("shape", sa.String(length=12), nullable=False),
        sa.Column("status", sa.String(length=12), nullable=True),
        sa.Column("received_at", sa.DateTime(), nullable=False),
        sa.Column("delivery_id", sa.Integer(), nullable=True),
        sa.Column("edition_id", sa.Integer(), nullable=True),
        sa.Column("subscriber_id", sa.Integer(), nullable=True),
        sa.Column("outcome", sa.String(length=20), nullable=False),
        sa.Column("folder", sa.String(length=20), nullable=False),
        sa.Column("source", sa.String(length=500), nullable=False),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(["subscriber_id"], ["subscribers.id"],
                                name=op.f("fk_inbound_reports_subscriber_id_subscribers"), ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_inbound_reports")),
        sa.UniqueConstraint("report_key", name=op.f("uq_inbound_reports_report_key")),
    )
    op.create_index("ix_inbound_reports_subscriber_id", "inbound_reports", ["subscriber_id"])
    op.create_index("ix_inbound_reports_edition_id", "inbound_reports", ["edition_id"])
    op.create_table(
        "clicks",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("edition_id", sa.Integer(), nullable=False),
        sa.Column("position", sa.SmallInteger(), nullable=False),
        sa.Column("variant", sa.String(length=1020), nullable=False),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.Column("kind", sa.String(length=10), nullable=False),
        sa.Column("reason", sa.String(length=60), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_clicks")),
    )
    op.create_index("ix_clicks_edition_id_kind", "clicks", ["edition_id", "kind"])


def downgrade() -> None:
    op.drop_index("ix_clicks_edition_id_kind", table_name="clicks")
    op.drop_table("clicks")
    op.drop_index("ix_inbound_reports_edition_id", table_name="inbound_reports")
    op.drop_index("ix_inbound_reports_subscriber_id", table_name="inbound_reports")
    op.drop_table("inbound_reports")
