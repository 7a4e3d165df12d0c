"""desk sessions kept on the server

Revision ID: 0012_desk
Revises: 0011
Create Date: 2026-12-07

A desk session was only a signed cookie, so a cookie copied before signing out
still worked. Now the cookie carries a random id whose sha256 is a row here;
signing out, removing the editor or setting a new password deletes the rows.
"""
from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op

revision: str = "0012_desk"
down_revision: Union[str, Sequence[str], None] = "0012_members"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    op.create_table(
        "desk_sessions",
        sa.Column("id_hash", sa.String(length=64), nullable=False),
        sa.Column("editor_id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id_hash", name=op.f("pk_desk_sessions")),
    )
    op.create_index("ix_desk_sessions_editor_id", "desk_sessions", ["editor_id"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_desk_sessions_editor_id", table_name="desk_sessions")
    op.drop_table("desk_sessions")
