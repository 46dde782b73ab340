"""report index: keyset paging on seq, and the status figures from indexes instead of table scans

Revision ID: 0006_report_index
Revises: 0002
"""

from alembic import op

revision = "0006_report_index"
down_revision = "0002"
branch_labels = None
depends_on = None

# (name, table, columns): the same as in ledger/tables.py.
INDEXES = (
    ("ix_specimens_seq", "specimens", ["seq"]),  # report, verify and planning page by seq
    ("ix_specimens_published_at", "specimens", ["published_at"]),  # throughput: min, max, count
    ("ix_specimens_op_state", "specimens", ["op", "state"]),  # pending sync work by kind
    ("ix_attempts_status", "attempts", ["status"]),  # errors by HTTP status
    ("ix_versions_modified_at", "versions", ["modified_at"]),  # versions edited in place
)


def upgrade() -> None:
    for name, table, columns in INDEXES:
        op.create_index(name, table, columns, unique=False)


def downgrade() -> None:
    for name, table, _columns in reversed(INDEXES):
        op.drop_index(name, table_name=table)
