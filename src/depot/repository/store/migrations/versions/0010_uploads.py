"""resumable uploads (tus 1.0): one row per upload, the offset the server vouches for

Revision ID: 0010_uploads
Revises: 0008_community_profile
"""

import sqlalchemy as sa
from alembic import op

revision = "0010_uploads"
down_revision = "0008_community_profile"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "uploads",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("user_id", sa.Integer, sa.ForeignKey("users.id"), nullable=False),
        sa.Column("bucket_id", sa.String(36), nullable=False),
        sa.Column("key", sa.String(255), nullable=False),
        sa.Column("length", sa.BigInteger, nullable=False),
        sa.Column("received", sa.BigInteger, nullable=False),
        sa.Column("upload_metadata", sa.Text, nullable=False),
        sa.Column("created", sa.String(40), nullable=False),
        sa.Column("expires", sa.String(40), nullable=False),
        sa.Column("finished", sa.String(40), nullable=True),
    )
    op.create_index("ix_uploads_user", "uploads", ["user_id", "finished"])
    op.create_index("ix_uploads_expires", "uploads", ["expires"])


def downgrade() -> None:
    op.drop_index("ix_uploads_expires", table_name="uploads")
    op.drop_index("ix_uploads_user", table_name="uploads")
    op.drop_table("uploads")
