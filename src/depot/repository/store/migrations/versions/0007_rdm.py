"""InvenioRDM records API: metadata-only records and files initialised but not yet committed (issue 12)

Revision ID: 0007_rdm
Revises: 0005_withdrawal
"""

import sqlalchemy as sa
from alembic import op

revision = "0007_rdm"
down_revision = "0005_withdrawal"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("deposits") as batch:
        batch.add_column(sa.Column("files_enabled", sa.Boolean(), nullable=False, server_default=sa.true()))
    op.create_table(
        "pending_files",
        sa.Column("bucket_id", sa.String(length=36), nullable=False),
        sa.Column("key", sa.String(length=255), nullable=False),
        sa.Column("created", sa.String(length=40), nullable=False),
        sa.PrimaryKeyConstraint("bucket_id", "key"),
    )


def downgrade() -> None:
    op.drop_table("pending_files")
    with op.batch_alter_table("deposits") as batch:
        batch.drop_column("files_enabled")
