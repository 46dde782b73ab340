"""bulk batches (issue 14): the batches `depot run --bulk` sent, and each specimen's batch

Revision ID: 0008_bulk_batches
Revises: 0006_report_index

A specimen in a batch whose outcome is not known yet is in state ``batched`` with ``batch_id`` set; the
batch row says how far the batch got (``packing`` until the server has it, ``sent`` with the job's URL).
"""

import sqlalchemy as sa
from alembic import op

revision = "0008_bulk_batches"
down_revision = "0006_report_index"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "batches",
        sa.Column("id", sa.String(100), primary_key=True),
        sa.Column("state", sa.String(10), nullable=False),
        sa.Column("records", sa.Integer, nullable=False),
        sa.Column("job_url", sa.String(1000), nullable=True),
        sa.Column("message", sa.Text, nullable=True),
        sa.Column("created_at", sa.String(40), nullable=False),
        sa.Column("updated_at", sa.String(40), nullable=False),
    )
    with op.batch_alter_table("specimens") as batch:
        batch.add_column(sa.Column("batch_id", sa.String(100), nullable=True))
    op.create_index("ix_specimens_batch_id", "specimens", ["batch_id"])


def downgrade() -> None:
    op.drop_index("ix_specimens_batch_id", table_name="specimens")
    with op.batch_alter_table("specimens") as batch:
        batch.drop_column("batch_id")
    op.drop_table("batches")
