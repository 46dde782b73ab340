"""source_options: the source options a ledger's records were planned with, so later runs default to them

Revision ID: 0010_source_options
Revises: 0006_report_index

One row (id 1). A ledger written before this revision has none: its next run or sync remembers the
options it is given (depot.deposit.source_options).
"""

import sqlalchemy as sa
from alembic import op

revision = "0010_source_options"
down_revision = "0006_report_index"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "source_options",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("options", sa.JSON, nullable=False),
        sa.Column("remembered_at", sa.String(40), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("source_options")
