"""I/O: specimens marked published inside the caller's transaction, with their published versions: one
for ``Ledger.mark_published``, a thousand at once for a settled bulk batch (depot.deposit.ledger.batches)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from depot.deposit.ledger.states import State
from depot.deposit.ledger.tables import files, specimens, versions
from depot.deposit.ledger.values import hash_of, now_iso
from depot.deposit.links import server_path


def publish_row(conn: sa.Connection, key: str, *, doi: str | None, concept_doi: str | None, record_url: str | None,
                record: dict[str, Any] | None = None) -> None:
    """``Ledger.mark_published`` inside the caller's transaction."""
    record_id = (record or {}).get("id")
    publish_rows(conn, [Published(key, doi, concept_doi, record_url, int(record_id) if record_id else None)])


@dataclass(frozen=True)
class Published:
    """A specimen's published version, as the target answered it (``record_id`` None: the deposition's own)."""

    key: str
    doi: str | None
    concept_doi: str | None
    record_url: str | None
    record_id: int | None = None


_PUBLISH_SPECIMEN = specimens.update().where(specimens.c.key == sa.bindparam("b_key")).values(
    state=State.PUBLISHED, step=None, op=None, pending_put=False, batch_id=None, retry_at=None,
    doi=sa.bindparam("b_doi"), concept_doi=sa.bindparam("b_concept_doi"), record_url=sa.bindparam("b_record_url"),
    deposition_id=sa.bindparam("b_deposition_id"), record_id=sa.bindparam("b_deposition_id"),
    published_at=sa.bindparam("b_now"), updated_at=sa.bindparam("b_now"))
_UPDATE_VERSION = versions.update().where(
    versions.c.specimen_key == sa.bindparam("b_key"), versions.c.deposition_id == sa.bindparam("b_deposition")).values(
    metadata_hash=sa.bindparam("b_metadata_hash"), files_hash=sa.bindparam("b_files_hash"),
    files=sa.bindparam("b_files", type_=versions.c.files.type), modified_at=sa.bindparam("b_now"))
_IN = 500  # keys per IN (...) list: well under every engine's limit of bound parameters


def publish_rows(conn: sa.Connection, items: list[Published]) -> None:
    """Mark many specimens published in the caller's transaction (a bulk batch settles a thousand in one):
    each gets its state and identifiers, and its published version, a new ``versions`` row or, for an edit
    in place, the same row with the new hashes. A few statements for all of them, not eight each."""
    if not items:
        return
    now = now_iso()
    keys = [item.key for item in items]
    rows: dict[str, Any] = {}
    listed: dict[str, list[dict[str, Any]]] = {key: [] for key in keys}
    known: dict[str, set[int]] = {key: set() for key in keys}
    for i in range(0, len(keys), _IN):
        chunk = keys[i:i + _IN]
        rows |= {r.key: r for r in conn.execute(sa.select(
            specimens.c.key, specimens.c.deposition_id, specimens.c.metadata_hash).where(specimens.c.key.in_(chunk)))}
        for f in conn.execute(sa.select(files.c.specimen_key, files.c.name, files.c.size, files.c.mtime_ns,
                                        files.c.md5).where(files.c.specimen_key.in_(chunk))
                              .order_by(files.c.specimen_key, files.c.position)):
            listed[f.specimen_key].append({"name": f.name, "size": f.size, "mtime_ns": f.mtime_ns, "md5": f.md5})
        for key, dep in conn.execute(sa.select(versions.c.specimen_key, versions.c.deposition_id)
                                     .where(versions.c.specimen_key.in_(chunk))):
            known[key].add(dep)
    specimen_rows, inserts, updates = [], [], []
    for item in items:
        row = rows[item.key]  # KeyError: a specimen the ledger does not have (a bug, never a data problem)
        deposition_id = int(item.record_id or row.deposition_id)
        specimen_rows.append({"b_key": item.key, "b_doi": item.doi, "b_concept_doi": item.concept_doi,
                              "b_record_url": server_path(item.record_url), "b_deposition_id": deposition_id,
                              "b_now": now})
        published = listed[item.key]
        files_hash = hash_of(sorted((f["name"], f["md5"]) for f in published))
        if deposition_id in known[item.key]:
            updates.append({"b_key": item.key, "b_deposition": deposition_id, "b_metadata_hash": row.metadata_hash,
                            "b_files_hash": files_hash, "b_files": published, "b_now": now})
        else:
            known[item.key].add(deposition_id)
            inserts.append({"specimen_key": item.key, "deposition_id": deposition_id,
                            "version": len(known[item.key]), "doi": item.doi, "concept_doi": item.concept_doi,
                            "metadata_hash": row.metadata_hash, "files_hash": files_hash, "files": published,
                            "published_at": now})
    conn.execute(_PUBLISH_SPECIMEN, specimen_rows)
    if inserts:
        conn.execute(versions.insert(), inserts)
    if updates:
        conn.execute(_UPDATE_VERSION, updates)
