"""fixity audit: runs, problems (history) and each file's latest check (issue 5)

Revision ID: 0002_fixity
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0002_fixity"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "fixity_runs",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("kind", sa.String(length=10), nullable=False),
        sa.Column("started", sa.String(length=40), nullable=False),
        sa.Column("finished", sa.String(length=40), nullable=True),
        sa.Column("files", sa.Integer(), nullable=False),
        sa.Column("bytes", sa.BigInteger(), nullable=False),
        sa.Column("problems", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "fixity_problems",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.Column("file_id", sa.String(length=36), nullable=False),
        sa.Column("checked", sa.String(length=40), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(["run_id"], ["fixity_runs.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_fixity_problems_run_id", "fixity_problems", ["run_id"])
    op.create_index("ix_fixity_problems_file_id", "fixity_problems", ["file_id"])
    op.create_table(
        "fixity_state",
        sa.Column("file_id", sa.String(length=36), nullable=False),
        sa.Column("checked", sa.String(length=40), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("file_id"),
    )
    op.create_index("ix_fixity_state_checked", "fixity_state", ["checked"])


def downgrade() -> None:
    op.drop_index("ix_fixity_state_checked", table_name="fixity_state")
    op.drop_table("fixity_state")
    op.drop_index("ix_fixity_problems_file_id", table_name="fixity_problems")
    op.drop_index("ix_fixity_problems_run_id", table_name="fixity_problems")
    op.drop_table("fixity_problems")
    op.drop_table("fixity_runs")
