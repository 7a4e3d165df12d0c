"""the editor's words per language, articles' languages and translations

Revision ID: 0020_welsh
Revises: 0012_fallback
Create Date: 2026-12-07

edition_texts.words / editions.words: the editor's subject, preheader and note
in each language other than the first, as JSON {"cy": {"subject": ...}}; NULL: none.
articles.language: the language the source wrote it in ("": the organisation's first).
articles.translation_id: the same article in another language (set on both).
edition_items.language / .translations: frozen with the edition, the article's
language and its translations as JSON {"cy": {"title", "url", "summary"}}.
"""
from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op

revision: str = "0020_welsh"
down_revision: Union[str, Sequence[str], None] = "0012_fallback"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    for table in ("edition_texts", "editions"):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.add_column(sa.Column("words", sa.Text(), nullable=True))
    with op.batch_alter_table("articles", schema=None) as batch_op:
        batch_op.add_column(sa.Column("language", sa.String(35), nullable=False, server_default=""))
        batch_op.add_column(sa.Column("translation_id", sa.Integer(), nullable=True))
    with op.batch_alter_table("edition_items", schema=None) as batch_op:
        batch_op.add_column(sa.Column("language", sa.String(35), nullable=False, server_default=""))
        batch_op.add_column(sa.Column("translations", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("edition_items", schema=None) as batch_op:
        batch_op.drop_column("translations")
        batch_op.drop_column("language")
    with op.batch_alter_table("articles", schema=None) as batch_op:
        batch_op.drop_column("translation_id")
        batch_op.drop_column("language")
    for table in ("editions", "edition_texts"):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_column("words")
