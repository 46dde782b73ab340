"""target api: which API of the target a ledger deposits through (legacy or rdm), so later commands use it

Revision ID: 0007_target_api
Revises: 0006_report_index, 0005_target (main has both as heads; the target table is 0005's)

NULL (every ledger written before this revision): not known, so the next command detects it (``--api
auto``: the legacy deposit API for Zenodo, the sandbox and the embedded repository, which is what those
ledgers used) and remembers it.
"""

import sqlalchemy as sa
from alembic import op

revision = "0007_target_api"
down_revision = ("0006_report_index", "0005_target")  # 0005 made the target table; both heads on main
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("target") as batch:
        batch.add_column(sa.Column("api", sa.String(16), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("target") as batch:
        batch.drop_column("api")
