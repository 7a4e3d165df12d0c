"""articles without a date; subscribe requests waiting for their email

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-30

An item whose date cannot be read is stored without one (published_at NULL)
and is not selected until the editor dates it. The subscribe form records
each request in subscribe_requests and answers at once, the same way for
every address; a worker thread of the web app decides what to send and
sends it, so the answer's timing says nothing about who is a member.
"""
from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: Union[str, Sequence[str], None] = "0006"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    with op.batch_alter_table("articles", schema=None) as batch_op:
        batch_op.alter_column("published_at", existing_type=sa.DateTime(), nullable=True)
    op.create_table(
        "subscribe_requests",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("email", sa.String(length=320), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=True),
        sa.Column("topics", sa.Text(), nullable=False),
        sa.Column("frequency", sa.String(length=20), nullable=False),
        sa.Column("format", sa.String(length=10), nullable=False),
        sa.Column("requested_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_subscribe_requests")),
    )


def downgrade() -> None:
    op.drop_table("subscribe_requests")
    op.execute("DELETE FROM articles WHERE published_at IS NULL")
    with op.batch_alter_table("articles", schema=None) as batch_op:
        batch_op.alter_column("published_at", existing_type=sa.DateTime(), nullable=False)
