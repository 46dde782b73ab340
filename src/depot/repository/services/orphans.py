"""Unreferenced file instances: what a delete leaves behind, for the caller to remove from disk after commit.

Below both the deposit and the file services, so neither has to import the other to clean up a bucket.
"""

from __future__ import annotations

import sqlalchemy as sa

from depot.repository.store import statements as st
from depot.repository.store.tables import file_instances, objects, pending_files


def delete_bucket_objects(conn: sa.Connection, bucket_id: str) -> list[str]:
    """Remove every object of a bucket; return storage URIs no longer referenced anywhere."""
    file_ids = list(conn.execute(sa.select(objects.c.file_id).where(objects.c.bucket_id == bucket_id)).scalars())
    conn.execute(objects.delete().where(objects.c.bucket_id == bucket_id))
    conn.execute(pending_files.delete().where(pending_files.c.bucket_id == bucket_id))
    return collect_orphans(conn, file_ids)


def collect_orphans(conn: sa.Connection, file_ids: list[str]) -> list[str]:
    uris: list[str] = []
    for file_id in set(file_ids):
        still_used = conn.execute(st.OBJECT_USES, {"b_file": file_id}).first()
        if still_used is None:
            uri = conn.execute(sa.select(file_instances.c.uri).where(file_instances.c.id == file_id)).scalar()
            conn.execute(file_instances.delete().where(file_instances.c.id == file_id))
            if uri:
                uris.append(uri)
    return uris
