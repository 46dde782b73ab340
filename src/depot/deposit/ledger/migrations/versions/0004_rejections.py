"""rejections: why a specimen was held back (its source's problem), the file it concerns and its source row

Revision ID: 0004_rejections
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

revision = "0004_rejections"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("specimens") as batch:
        batch.add_column(sa.Column("source_row", sa.Integer, nullable=True))
        batch.add_column(sa.Column("rejected_reason", sa.Text, nullable=True))
        batch.add_column(sa.Column("rejected_file", sa.String(4096), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("specimens") as batch:
        batch.drop_column("rejected_file")
        batch.drop_column("rejected_reason")
        batch.drop_column("source_row")
