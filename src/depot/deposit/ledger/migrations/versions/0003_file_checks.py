"""file_checks: the image check's verdict per file identity (path, size, mtime, rules), so no file is decoded twice

Revision ID: 0003_file_checks
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

revision = "0003_file_checks"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "file_checks",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("path", sa.String(4096), nullable=False),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("specimen_key", sa.String(500), nullable=False),
        sa.Column("rules_hash", sa.String(64), nullable=False),
        sa.Column("size", sa.BigInteger, nullable=False),
        sa.Column("mtime_ns", sa.BigInteger, nullable=False),
        sa.Column("result", sa.JSON, nullable=False),
        sa.Column("checked_at", sa.String(40), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("file_checks")
