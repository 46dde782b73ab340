"""target: the repository a ledger deposits into, so that every later command defaults to it

Revision ID: 0005_target
Revises: 0002

One row. ``name`` is what ``--target`` was (local, zenodo, sandbox or an API URL); ``repo_dir`` is the
embedded repository's folder for local. A ledger written before this revision is given the target of
its last run when that is unambiguous: Zenodo, the sandbox, or a server that is not on loopback (a
loopback URL may have been the embedded repository's temporary port, so it is left unknown).
"""

from urllib.parse import urlsplit

import sqlalchemy as sa
from alembic import op

revision = "0005_target"
down_revision = "0002"
branch_labels = None
depends_on = None

PUBLIC = {"https://zenodo.org/api": "zenodo", "https://sandbox.zenodo.org/api": "sandbox"}
LOOPBACK = {"127.0.0.1", "localhost", "::1", "0.0.0.0"}


def upgrade() -> None:
    table = op.create_table(
        "target",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("name", sa.String(1000), nullable=False),
        sa.Column("repo_dir", sa.String(4096), nullable=True),
        sa.Column("remembered_at", sa.String(40), nullable=False),
    )
    bind = op.get_bind()
    last = bind.execute(sa.text("SELECT target, started FROM runs ORDER BY id DESC LIMIT 1")).first()
    if last is None or not last[0]:
        return
    url = str(last[0]).rstrip("/")
    name = PUBLIC.get(url)
    if name is None and urlsplit(url).hostname not in LOOPBACK and url.startswith(("http://", "https://")):
        name = url
    if name is not None:
        op.bulk_insert(table, [{"id": 1, "name": name, "repo_dir": None, "remembered_at": str(last[1])}])


def downgrade() -> None:
    op.drop_table("target")
