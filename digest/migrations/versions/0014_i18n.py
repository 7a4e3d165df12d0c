"""a member's language, and the language of a variant

Revision ID: 0012_i18n
Revises: 0012_providers
Create Date: 2026-12-07

subscribers.language: a BCP 47 tag of [organisation] languages ("cy"), or ""
for a member who has not chosen (they get the organisation's first language).
variants.language: the language a variant is written in, "" for the first;
an edition has one variant per (topics, format, language).
subscribe_requests.language: the language chosen on the subscribe form.
"""
from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op

revision: str = "0012_i18n"
down_revision: Union[str, Sequence[str], None] = "0012_house"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    with op.batch_alter_table("subscribers", schema=None) as batch_op:
        batch_op.add_column(sa.Column("language", sa.String(35), nullable=False, server_default=""))
    with op.batch_alter_table("variants", schema=None) as batch_op:
        batch_op.add_column(sa.Column("language", sa.String(35), nullable=False, server_default=""))
        batch_op.drop_constraint("uq_variants_edition_id_topics_format", type_="unique")
        batch_op.create_unique_constraint("uq_variants_edition_id_topics_format_language",
                                          ["edition_id", "topics", "format", "language"])
    with op.batch_alter_table("subscribe_requests", schema=None) as batch_op:
        batch_op.add_column(sa.Column("language", sa.String(35), nullable=False, server_default=""))


def downgrade() -> None:
    with op.batch_alter_table("subscribe_requests", schema=None) as batch_op:
        batch_op.drop_column("language")
    with op.batch_alter_table("variants", schema=None) as batch_op:
        batch_op.drop_constraint("uq_variants_edition_id_topics_format_language", type_="unique")
        batch_op.create_unique_constraint("uq_variants_edition_id_topics_format", ["edition_id", "topics", "format"])
        batch_op.drop_column("language")
    with op.batch_alter_table("subscribers", schema=None) as batch_op:
        batch_op.drop_column("language")
