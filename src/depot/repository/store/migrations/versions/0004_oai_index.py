"""index deposits by (modified, id): OAI-PMH walks published versions in that keyset order

Revision ID: 0004_oai_index
Revises: 0001
"""

from alembic import op

revision = "0004_oai_index"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_deposits_modified_id", "deposits", ["modified", "id"])


def downgrade() -> None:
    op.drop_index("ix_deposits_modified_id", table_name="deposits")
