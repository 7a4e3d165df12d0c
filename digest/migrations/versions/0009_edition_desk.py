"""the edition desk: editors, their audit trail, the editor's order and topics set by hand

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-30

Editors sign in to /desk/ with a password (hashed) or a one-time link (only
the sha256 of its nonce is kept, so a link works once). Every action they take
is a row of editor_events, which has no foreign key so the trail outlives an
editor who is removed. articles.rank is the order an editor gave by hand
(NULL: by date); articles.topics_by_hand keeps re-ingesting from replacing
topics an editor chose.
"""
from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: Union[str, Sequence[str], None] = "0008"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    op.create_table(
        "editors",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("email", sa.String(length=320), nullable=False),
        sa.Column("email_key", sa.String(length=320), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=True),
        sa.Column("password_hash", sa.String(length=300), nullable=True),
        sa.Column("link_hash", sa.String(length=64), nullable=True),
        sa.Column("link_purpose", sa.String(length=20), nullable=True),
        sa.Column("session_version", sa.Integer(), nullable=False, server_default="1"),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("last_sign_in_at", sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_editors")),
        sa.UniqueConstraint("email_key", name=op.f("uq_editors_email_key")),
    )
    op.create_table(
        "editor_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.Column("editor_id", sa.Integer(), nullable=True),
        sa.Column("editor", sa.String(length=320), nullable=False),
        sa.Column("action", sa.String(length=30), nullable=False),
        sa.Column("target", sa.String(length=100), nullable=False, server_default=""),
        sa.Column("detail", sa.Text(), nullable=False, server_default="{}"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_editor_events")),
    )
    op.create_index("ix_editor_events_at", "editor_events", ["at"], unique=False)
    with op.batch_alter_table("articles", schema=None) as batch_op:
        batch_op.add_column(sa.Column("rank", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("topics_by_hand", sa.Boolean(), nullable=False, server_default=sa.false()))


def downgrade() -> None:
    with op.batch_alter_table("articles", schema=None) as batch_op:
        batch_op.drop_column("topics_by_hand")
        batch_op.drop_column("rank")
    op.drop_index("ix_editor_events_at", table_name="editor_events")
    op.drop_table("editor_events")
    op.drop_table("editors")
