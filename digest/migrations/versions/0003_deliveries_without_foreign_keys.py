"""deliveries without foreign keys

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-25

PostgreSQL checks a foreign key with a trigger per inserted row: for the
deliveries queue that was two thirds of the time of queueing (see the comment
on the table in digest/db/schema.py for why integrity holds without them).
"""
from typing import Sequence, Union

from alembic import op

revision: str = "0003"
down_revision: Union[str, Sequence[str], None] = "0002"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

KEYS = [
    ("fk_deliveries_edition_id_editions", "editions", "edition_id", "CASCADE"),
    ("fk_deliveries_subscriber_id_subscribers", "subscribers", "subscriber_id", "SET NULL"),
    ("fk_deliveries_variant_id_variants", "variants", "variant_id", "CASCADE"),
]


def upgrade() -> None:
    with op.batch_alter_table("deliveries", schema=None) as batch_op:
        for name, _, _, _ in KEYS:
            batch_op.drop_constraint(name, type_="foreignkey")


def downgrade() -> None:
    with op.batch_alter_table("deliveries", schema=None) as batch_op:
        for name, table, column, ondelete in KEYS:
            batch_op.create_foreign_key(name, table, [column], ["id"], ondelete=ondelete)
