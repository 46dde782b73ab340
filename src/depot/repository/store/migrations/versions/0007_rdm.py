"""InvenioRDM records API: metadata-only records and files initialised but not yet committed (issue 12)

Revision ID: 0007_rdm
Revises: 0005_withdrawal
"""

import sqlalchemy as sa
from alembic import op

revision = "0007_rdm"
down_revision = "0005_withdrawal"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("deposits") as batch:
        batch.add_column(sa.Column("files_enabled", sa.Boolean(), nullable=False, server_default=sa.true()))
    op.create_table(
        "pending_files",
        sa.Column("bucket_id", sa.String(length=36), nullable=False),
        sa.Column("key", sa.String(length=255), nullable=False),
        sa.Column("created", sa.String(length=40), nullable=False),
        sa.PrimaryKeyConstraint("bucket_id", "key"),
    )
    _index_facets()


def _index_facets() -> None:
    """Search aggregations read ``facet.*`` terms written at publish: write them for the records
    published before this revision."""
    from depot.repository.services.facets import facet_values

    conn = op.get_bind()
    deposits = sa.table("deposits", sa.column("id"), sa.column("bucket_id"), sa.column("record", sa.JSON),
                        sa.column("withdrawn"))
    objects = sa.table("objects", sa.column("bucket_id"), sa.column("key"))
    terms = sa.table("terms", sa.column("deposit_id"), sa.column("scope"), sa.column("field"), sa.column("value"))
    keys: dict[str, list[str]] = {}
    for bucket_id, key in conn.execute(sa.select(objects.c.bucket_id, objects.c.key)):
        keys.setdefault(bucket_id, []).append(key)
    published = conn.execute(sa.select(deposits.c.id, deposits.c.bucket_id, deposits.c.record)
                             .where(deposits.c.record.is_not(None), deposits.c.withdrawn.is_(None)))
    for deposit_id, bucket_id, record in published:
        rows = [{"deposit_id": deposit_id, "scope": "record", "field": f"facet.{facet}", "value": value}
                for facet, value in facet_values(record or {}, files_enabled=True, keys=keys.get(bucket_id, []))]
        if rows:
            conn.execute(terms.insert(), rows)


def downgrade() -> None:
    op.drop_table("pending_files")
    with op.batch_alter_table("deposits") as batch:
        batch.drop_column("files_enabled")
