"""COUNTER usage events (issue 5)

Revision ID: 0003_usage
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0003_usage"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "usage_events",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("at", sa.String(length=40), nullable=False),
        sa.Column("kind", sa.String(length=10), nullable=False),
        sa.Column("record_id", sa.Integer(), nullable=False),
        sa.Column("concept_id", sa.Integer(), nullable=False),
        sa.Column("session", sa.String(length=32), nullable=False),
        sa.Column("item", sa.String(length=255), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_usage_events_concept", "usage_events", ["concept_id", "id"])


def downgrade() -> None:
    op.drop_index("ix_usage_events_concept", table_name="usage_events")
    op.drop_table("usage_events")
