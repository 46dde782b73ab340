"""withdrawn records: the DOI stays and resolves to a tombstone; content, search and OAI metadata go

Revision ID: 0005_withdrawal
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0005_withdrawal"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("deposits") as batch:
        batch.add_column(sa.Column("withdrawn", sa.String(40), nullable=True))
        batch.add_column(sa.Column("withdrawal_reason", sa.Text, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("deposits") as batch:
        batch.drop_column("withdrawal_reason")
        batch.drop_column("withdrawn")
