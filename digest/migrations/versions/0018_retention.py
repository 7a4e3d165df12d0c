"""retention: folded edition totals and the prune log

Revision ID: 0012_retention
Revises: 0012_i18n
Create Date: 2026-12-07

`digest prune` folds the delivery rows (and old clicks) of editions older than
[retention] deliveries_months into per-edition, per-variant totals, which
`digest report` and the desk read from then on, and deletes the rows.
prune_runs records each prune, so `digest run` can prune once a week.
"""
from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op

revision: str = "0012_retention"
down_revision: Union[str, Sequence[str], None] = "0012_desk"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    op.create_table(
        "edition_totals",
        sa.Column("edition_id", sa.Integer(), nullable=False),
        sa.Column("variant", sa.String(length=1020), nullable=False),
        sa.Column("measure", sa.String(length=60), nullable=False),
        sa.Column("value", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("edition_id", "variant", "measure", name=op.f("pk_edition_totals")),
    )
    op.create_table(
        "prune_runs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.Column("removed", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_prune_runs")),
    )


def downgrade() -> None:
    op.drop_table("prune_runs")
    op.drop_table("edition_totals")
