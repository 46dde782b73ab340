"""Store migration 0007: a store made before it gains the metadata-only flag and pending uploads, and the
records it already published get their search-aggregation terms."""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa
from alembic import command

from depot.repository.store import db as store_db
from depot.repository.store.db import Database
from depot.repository.store.tables import terms


def test_upgrade_indexes_facets_of_published_records(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'store.db'}"
    database = Database.open(url)  # at every head, 0007 included
    cfg = store_db.SCHEMA.alembic_config()
    with database.engine.connect() as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, "0007_rdm@-1")  # back to before 0007, the other heads kept
        conn.commit()
        conn.execute(sa.text("INSERT INTO users (id, email, created) VALUES (1, 'a@example.org', 'now')"))
        conn.execute(sa.text("INSERT INTO concepts (id, owner_id, created) VALUES (1, 1, 'now')"))
        conn.execute(sa.text(
            "INSERT INTO deposits (id, concept_id, owner_id, bucket_id, record, title, created, modified) "
            "VALUES (2, 1, 1, 'b1', :record, 't', 'now', 'now')"),
            {"record": '{"upload_type": "image", "image_type": "photo", "keywords": ["Herbarium"], '
                       '"access_right": "open"}'})
        conn.execute(sa.text("INSERT INTO file_instances (id, uri, size, md5, sha256, created) "
                             "VALUES ('f1', 'u', 1, 'm', 's', 'now')"))
        conn.execute(sa.text("INSERT INTO objects (bucket_id, key, file_id, version_id, mimetype, created, updated) "
                             "VALUES ('b1', 'sheet.JPG', 'f1', 'v', 'image/jpeg', 'now', 'now')"))
        conn.commit()
        command.upgrade(cfg, "heads")
        conn.commit()
    with database.read() as conn:
        rows = set(conn.execute(sa.select(terms.c.field, terms.c.value).where(terms.c.deposit_id == 2)).all())
        enabled = conn.execute(sa.text("SELECT files_enabled FROM deposits WHERE id = 2")).scalar_one()
    assert rows == {("facet.access_status", "open"), ("facet.resource_type", "image"),
                    ("facet.resource_type", "image::photo"), ("facet.subject", "Herbarium"),
                    ("facet.file_type", "jpg")}
    assert enabled in (1, True)
    database.dispose()
