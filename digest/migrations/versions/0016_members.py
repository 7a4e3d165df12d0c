"""members from the membership system: attributes, lapsed, API tokens, webhooks out

Revision ID: 0012_members
Revises: 0012_i18n
Create Date: 2026-12-07

subscribers.attributes keeps what the membership system says about a member
beyond the digest's own fields (region, grade...) as a JSON object, and
updated_at gets an index for the API's `updated_since`. editors.role: "membership"
staff see only the desk's members pages. subscribe_requests.kind: "link" is a
member's "email me my preferences link". api_tokens holds only
the sha256 of each token. webhook_endpoints are the receivers; webhook_outbox
is one row per event per endpoint, written in the transaction that made the
change and delivered (in order per member) by a worker.
"""
from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op

revision: str = "0012_members"
down_revision: Union[str, Sequence[str], None] = "0012_sending"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    with op.batch_alter_table("subscribers", schema=None) as batch_op:
        batch_op.add_column(sa.Column("attributes", sa.Text(), nullable=False, server_default="{}"))
        batch_op.create_index("ix_subscribers_updated_at", ["updated_at"], unique=False)
    with op.batch_alter_table("subscribe_requests", schema=None) as batch_op:
        batch_op.add_column(sa.Column("kind", sa.String(length=12), nullable=False, server_default="subscribe"))
    with op.batch_alter_table("editors", schema=None) as batch_op:
        batch_op.add_column(sa.Column("role", sa.String(length=12), nullable=False, server_default="editor"))
    op.create_table(
        "api_tokens",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=16), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("scopes", sa.String(length=200), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("last_used_at", sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_api_tokens")),
        sa.UniqueConstraint("name", name=op.f("uq_api_tokens_name")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_api_tokens_token_hash")),
    )
    op.create_table(
        "webhook_endpoints",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("url", sa.String(length=2000), nullable=False),
        sa.Column("events", sa.String(length=500), nullable=False),
        sa.Column("secret", sa.String(length=100), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_webhook_endpoints")),
    )
    op.create_table(
        "webhook_outbox",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("endpoint_id", sa.Integer(), nullable=False),
        sa.Column("msg_id", sa.String(length=40), nullable=False),
        sa.Column("event", sa.String(length=40), nullable=False),
        sa.Column("order_key", sa.String(length=60), nullable=False),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False, server_default="pending"),
        sa.Column("attempts", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("next_at", sa.DateTime(), nullable=False),
        sa.Column("lease_until", sa.DateTime(), nullable=True),
        sa.Column("last_error", sa.String(length=500), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("done_at", sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_webhook_outbox")),
        sa.UniqueConstraint("msg_id", name=op.f("uq_webhook_outbox_msg_id")),
    )
    op.create_index("ix_webhook_outbox_status_id", "webhook_outbox", ["status", "id"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_webhook_outbox_status_id", table_name="webhook_outbox")
    op.drop_table("webhook_outbox")
    op.drop_table("webhook_endpoints")
    op.drop_table("api_tokens")
    with op.batch_alter_table("editors", schema=None) as batch_op:
        batch_op.drop_column("role")
    with op.batch_alter_table("subscribe_requests", schema=None) as batch_op:
        batch_op.drop_column("kind")
    with op.batch_alter_table("subscribers", schema=None) as batch_op:
        batch_op.drop_index("ix_subscribers_updated_at")
        batch_op.drop_column("attributes")
