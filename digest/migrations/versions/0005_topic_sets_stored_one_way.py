"""topic sets stored one way: "" for all topics in variants too

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-30

subscribers.topics always said "" for all topics, variants.topics said "*".
A topic set now has one type in code (models.TopicSet) and one encoding in
the database (db.schema.encode_topics): "a,b", "" for all.
"""
from typing import Sequence, Union

from alembic import op

revision: str = "0005"
down_revision: Union[str, Sequence[str], None] = "0004"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    op.execute("UPDATE variants SET topics = '' WHERE topics = '*'")


def downgrade() -> None:
    op.execute("UPDATE variants SET topics = '*' WHERE topics = ''")
