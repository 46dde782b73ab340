"""bulk ingest (issue 14): jobs (one per client batch id), their records, and the record keys already
published, unique per owner, so that no key is published twice by bulk ingest

Revision ID: 0009_bulk_jobs
Revises: 0008_community_profile
"""

import sqlalchemy as sa
from alembic import op

revision = "0009_bulk_jobs"
down_revision = "0008_community_profile"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "bulk_jobs",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("owner_id", sa.Integer, sa.ForeignKey("users.id"), nullable=False),
        sa.Column("batch_id", sa.String(100), nullable=False),
        sa.Column("state", sa.String(10), nullable=False),
        sa.Column("format", sa.String(10), nullable=False),
        sa.Column("size", sa.BigInteger, nullable=False),
        sa.Column("total", sa.Integer, nullable=True),
        sa.Column("created", sa.String(40), nullable=False),
        sa.Column("updated", sa.String(40), nullable=False),
        sa.Column("finished", sa.String(40), nullable=True),
        sa.Column("errors", sa.JSON, nullable=True),
        sa.UniqueConstraint("owner_id", "batch_id", name="uq_bulk_jobs_owner_batch"),
    )
    op.create_index("ix_bulk_jobs_state", "bulk_jobs", ["state"])
    op.create_table(
        "bulk_items",
        sa.Column("job_id", sa.String(36), sa.ForeignKey("bulk_jobs.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("idx", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("key", sa.String(255), nullable=False),
        sa.Column("state", sa.String(10), nullable=False),
        sa.Column("deposit_id", sa.Integer, nullable=True),
        sa.Column("message", sa.Text, nullable=True),
    )
    op.create_table(
        "record_keys",
        sa.Column("owner_id", sa.Integer, sa.ForeignKey("users.id"), primary_key=True),
        sa.Column("key", sa.String(255), primary_key=True),
        sa.Column("deposit_id", sa.Integer, sa.ForeignKey("deposits.id"), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("record_keys")
    op.drop_table("bulk_items")
    op.drop_index("ix_bulk_jobs_state", table_name="bulk_jobs")
    op.drop_table("bulk_jobs")
