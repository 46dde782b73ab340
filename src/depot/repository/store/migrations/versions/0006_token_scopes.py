"""token scopes as Zenodo's (deposit:write, deposit:actions, user:email); existing tokens keep both deposit scopes

Revision ID: 0006_token_scopes
Revises: 0005_withdrawal
"""

import sqlalchemy as sa
from alembic import op

revision = "0006_token_scopes"
down_revision = "0005_withdrawal"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("tokens") as batch:
        batch.add_column(sa.Column("scopes", sa.String(255), nullable=False,
                                   server_default="deposit:write deposit:actions"))


def downgrade() -> None:
    with op.batch_alter_table("tokens") as batch:
        batch.drop_column("scopes")
