"""Store migration 0008: a community made before it keeps its row and gains an empty description and no logo."""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa
from alembic import command

from depot.repository.services.accounts import AccountService
from depot.repository.store import db as store_db
from depot.repository.store.db import Database


def test_upgrade_keeps_communities(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'store.db'}"
    database = Database.open(url)
    cfg = store_db.SCHEMA.alembic_config()
    with database.engine.connect() as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, "0011_file_uri_index@-1")  # the index of stored files' paths
        command.downgrade(cfg, "0010_uploads@-1")  # and resumable uploads
        command.downgrade(cfg, "0009_bulk_jobs@-1")  # the revisions built on 0008 first (bulk ingest)
        command.downgrade(cfg, "0008_community_profile@-1")  # back to before 0008, the other heads kept
        conn.commit()
        columns = {c["name"] for c in sa.inspect(conn).get_columns("communities")}
        assert "logo" not in columns
        conn.execute(sa.text("INSERT INTO users (id, email, created) VALUES (1, 'a@example.org', 'now')"))
        conn.execute(sa.text("INSERT INTO communities (id, slug, title, owner_id, created) "
                             "VALUES ('c1', 'herbarium', 'Herbarium', 1, 'now')"))
        conn.commit()
        command.upgrade(cfg, "heads")
        conn.commit()
        indexes = {i["name"] for i in sa.inspect(conn).get_indexes("deposits")}
    community = AccountService(database).get_community("herbarium")
    assert (community.title, community.description, community.logo_type) == ("Herbarium", "", None)
    assert "ix_deposits_created_id" in indexes
    database.dispose()
