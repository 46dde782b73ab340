"""a community's description (sanitised HTML) and logo (an image of at most 512 kB, in the database);
an index on deposits (created, id), the search pages' default order (newest first)

Revision ID: 0008_community_profile
Revises: 0005_withdrawal
"""

import sqlalchemy as sa
from alembic import op

revision = "0008_community_profile"
down_revision = "0005_withdrawal"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("communities") as batch:
        batch.add_column(sa.Column("description", sa.Text, nullable=False, server_default=""))
        batch.add_column(sa.Column("logo", sa.LargeBinary, nullable=True))
        batch.add_column(sa.Column("logo_type", sa.String(40), nullable=True))
    # Without it the newest 20 of 100,000 records were a sort of all 100,000 on every search page.
    op.create_index("ix_deposits_created_id", "deposits", ["created", "id"])


def downgrade() -> None:
    op.drop_index("ix_deposits_created_id", table_name="deposits")
    with op.batch_alter_table("communities") as batch:
        batch.drop_column("logo_type")
        batch.drop_column("logo")
        batch.drop_column("description")
