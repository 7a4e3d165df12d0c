"""the editor's subject, preheader and note for an edition

Revision ID: 0005a
Revises: 0005
Create Date: 2026-11-30

edition_texts holds what the editor wrote for an edition's key, before it is
built; a build copies it into editions (preheader, note; subject was there),
where it is frozen with the articles once queued.
"""
from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op

revision: str = "0005a"
down_revision: Union[str, Sequence[str], None] = "0005"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    with op.batch_alter_table("editions", schema=None) as batch_op:
        batch_op.add_column(sa.Column("preheader", sa.String(length=500), nullable=False, server_default=""))
        batch_op.add_column(sa.Column("note", sa.Text(), nullable=False, server_default=""))
    op.create_table(
        "edition_texts",
        sa.Column("key", sa.String(length=40), primary_key=True),
        sa.Column("subject", sa.String(length=500), nullable=False, server_default=""),
        sa.Column("preheader", sa.String(length=500), nullable=False, server_default=""),
        sa.Column("note", sa.Text(), nullable=False, server_default=""),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.Column("updated_by", sa.String(length=320), nullable=False, server_default=""),
    )


def downgrade() -> None:
    op.drop_table("edition_texts")
    with op.batch_alter_table("editions", schema=None) as batch_op:
        batch_op.drop_column("note")
        batch_op.drop_column("preheader")
