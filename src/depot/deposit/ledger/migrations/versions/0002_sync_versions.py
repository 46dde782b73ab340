"""sync: what a specimen's pending operation is, the record it changes, and every version's files

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("specimens") as batch:
        batch.add_column(sa.Column("op", sa.String(10), nullable=True))
        batch.add_column(sa.Column("record_id", sa.BigInteger, nullable=True))
        batch.add_column(sa.Column("pending_put", sa.Boolean, nullable=False, server_default=sa.false()))
    with op.batch_alter_table("versions") as batch:
        batch.add_column(sa.Column("files", sa.JSON, nullable=True))
        batch.add_column(sa.Column("modified_at", sa.String(40), nullable=True))
    # A specimen published by an older Depot: its published record is the deposition it worked on.
    op.execute("UPDATE specimens SET record_id = deposition_id WHERE state IN ('published', 'verified')")


def downgrade() -> None:
    with op.batch_alter_table("versions") as batch:
        batch.drop_column("modified_at")
        batch.drop_column("files")
    with op.batch_alter_table("specimens") as batch:
        batch.drop_column("pending_put")
        batch.drop_column("record_id")
        batch.drop_column("op")
