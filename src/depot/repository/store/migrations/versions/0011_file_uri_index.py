"""file_instances.uri indexed, so `depot repo sweep` asks which stored files are named, folder by folder

Revision ID: 0011_file_uri_index
Revises: 0010_uploads
"""

from alembic import op

revision = "0011_file_uri_index"
down_revision = "0010_uploads"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_file_instances_uri", "file_instances", ["uri"])


def downgrade() -> None:
    op.drop_index("ix_file_instances_uri", table_name="file_instances")
