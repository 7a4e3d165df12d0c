"""tokens of provider webhooks already accepted

Revision ID: 0012_providers
Revises: 0011
Create Date: 2026-12-07

provider_tokens: each Mailgun webhook token is accepted once (a signed request
seen in transit cannot be played again). The events themselves are recorded
in inbound_reports, one row per provider event id (report_key "PROVIDER:ID"),
so they count in `digest report` like returned reports.
"""
from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op

revision: str = "0012_providers"
down_revision: Union[str, Sequence[str], None] = "0011"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    op.create_table(
        "provider_tokens",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("provider", sa.String(length=20), nullable=False),
        sa.Column("token", sa.String(length=200), nullable=False),
        sa.Column("seen_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_provider_tokens")),
        sa.UniqueConstraint("provider", "token", name=op.f("uq_provider_tokens_provider_token")),
    )
    op.create_index("ix_provider_tokens_seen_at", "provider_tokens", ["seen_at"])


def downgrade() -> None:
    op.drop_index("ix_provider_tokens_seen_at", table_name="provider_tokens")
    op.drop_table("provider_tokens")
