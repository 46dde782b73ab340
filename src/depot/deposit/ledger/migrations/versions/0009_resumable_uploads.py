"""resumable_uploads: the URL of each large file's tus upload in progress, so a rerun resumes it

Revision ID: 0009_resumable_uploads
Revises: 0006_report_index
"""

import sqlalchemy as sa
from alembic import op

revision = "0009_resumable_uploads"
down_revision = "0006_report_index"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "resumable_uploads",
        sa.Column("specimen_key", sa.String(500), primary_key=True),
        sa.Column("name", sa.String(255), primary_key=True),
        sa.Column("url", sa.String(2000), nullable=False),
        sa.Column("size", sa.BigInteger, nullable=False),
        sa.Column("mtime_ns", sa.BigInteger, nullable=False),
        sa.Column("created_at", sa.String(40), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("resumable_uploads")
