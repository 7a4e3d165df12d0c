"""mail providers' webhook events, and the tokens already accepted

Revision ID: 0012_providers
Revises: 0011
Create Date: 2026-12-07

provider_events: one row per provider event id, recorded when a verified
webhook is answered, acted on afterwards (taken_at). provider_tokens: each
Mailgun webhook token is accepted once (a signed request seen in transit
cannot be played again). What an event did is recorded in inbound_reports
(report_key "PROVIDER:ID"), so it counts in `digest report` like a returned
report.
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
        "provider_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("provider", sa.String(length=20), nullable=False),
        sa.Column("event_id", sa.String(length=200), nullable=False),
        sa.Column("received_at", sa.DateTime(), nullable=False),
        sa.Column("event", sa.Text(), nullable=False),
        sa.Column("taken_at", sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_provider_events")),
        sa.UniqueConstraint("provider", "event_id", name=op.f("uq_provider_events_provider_event_id")),
    )
    op.create_index("ix_provider_events_taken_at_id", "provider_events", ["taken_at", "id"])
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
    op.drop_index("ix_provider_events_taken_at_id", table_name="provider_events")
    op.drop_table("provider_events")
