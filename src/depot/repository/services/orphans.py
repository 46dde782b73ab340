"""Unreferenced file instances: what a delete leaves behind, handed to the unit of work to remove from disk
once the transaction has committed.

Below both the deposit and the file services, so neither has to import the other to clean up a bucket.
"""

from __future__ import annotations

import sqlalchemy as sa

from depot.repository.services.uow import UnitOfWork
from depot.repository.store import statements as st
from depot.repository.store.tables import file_instances, objects, pending_files


def delete_bucket_objects(work: UnitOfWork, bucket_id: str) -> None:
    """Remove every object of a bucket; content no longer referenced anywhere goes after the commit."""
    conn = work.conn
    file_ids = list(conn.execute(sa.select(objects.c.file_id).where(objects.c.bucket_id == bucket_id)).scalars())
    conn.execute(objects.delete().where(objects.c.bucket_id == bucket_id))
    conn.execute(pending_files.delete().where(pending_files.c.bucket_id == bucket_id))
    release_files(work, file_ids)


def release_files(work: UnitOfWork, file_ids: list[str]) -> None:
    """Drop the file instances no object uses any more (another version may share one); their content is
    deleted once the transaction has committed."""
    uris: list[str] = []
    for file_id in set(file_ids):
        still_used = work.conn.execute(st.OBJECT_USES, {"b_file": file_id}).first()
        if still_used is None:
            uri = work.conn.execute(sa.select(file_instances.c.uri).where(file_instances.c.id == file_id)).scalar()
            work.conn.execute(file_instances.delete().where(file_instances.c.id == file_id))
            if uri:
                uris.append(uri)
    work.unreferenced(uris)
