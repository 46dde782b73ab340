"""The run's hot ledger statements as plain SQL, run on the driver's cursor with positional parameters.

Each transition is one fixed statement whose text never changes, so the driver prepares it once:
sqlite3 keeps a cache of prepared statements by text, psycopg prepares a statement on the server after
its fifth run. Going past SQLAlchemy's execution layer here saves most of a statement's CPU (compiled
cache lookup, parameter processing, result wrapping), which at several statements per record was
most of `depot run`'s own time. Values are plain str/int/bool/None; JSON is passed already encoded.
"""

from __future__ import annotations

import re
from typing import Any

# A claimed specimen's columns, in the order ``journal`` reads them.
CLAIM_COLUMNS = ('"key", state, step, deposition_id, bucket_url, doi, metadata, attempts, last_status, last_error, '
                 'op, record_id, pending_put, source_row, rejected_reason, rejected_file, metadata_hash')
# ``:name`` placeholders, turned into the driver's own style by ``Prepared``.
SQL = {
    # The next ready specimens in source order (see statements._READY), with what the runner needs.
    "ready": f"SELECT {CLAIM_COLUMNS} FROM specimens WHERE state IN (:planned, :created, :uploaded, :uncertain) "
             "AND (retry_at IS NULL OR retry_at <= :now) AND (lease_until IS NULL OR lease_until < :now) "
             "ORDER BY seq LIMIT :limit",
    # Only after "ready" in the same transaction, which holds the write lock (SQLite) or the row (PostgreSQL).
    "lease": 'UPDATE specimens SET lease_owner = :owner, lease_until = :until WHERE "key" = :key',
    # A given specimen, if it is ready (rowcount 1): the crash-left creates leased before the workers start.
    "lease_if_ready": 'UPDATE specimens SET lease_owner = :owner, lease_until = :until WHERE "key" = :key '
                      "AND state IN (:planned, :created, :uploaded, :uncertain) "
                      "AND (retry_at IS NULL OR retry_at <= :now) AND (lease_until IS NULL OR lease_until < :now)",
    "specimen": f'SELECT {CLAIM_COLUMNS} FROM specimens WHERE "key" = :key',
    "files_of": "SELECT name, path, size, md5, sha256, uploaded, server_checksum, mtime_ns FROM files "
                "WHERE specimen_key = :key ORDER BY position",
    "step": 'UPDATE specimens SET state = :state, step = :step, attempts = :attempts, updated_at = :now '
            'WHERE "key" = :key',
    "created": 'UPDATE specimens SET state = :state, step = :step, deposition_id = :deposition_id, '
               'bucket_url = :bucket_url, attempts = :attempts, updated_at = :now WHERE "key" = :key',
    "metadata_sent": 'UPDATE specimens SET state = :state, pending_put = :pending_put, attempts = :attempts, '
                     'updated_at = :now WHERE "key" = :key',
    "draft_dropped": 'UPDATE specimens SET deposition_id = :deposition_id, bucket_url = NULL, updated_at = :now '
                     'WHERE "key" = :key',
    "retry": 'UPDATE specimens SET attempts = :attempts, retry_at = :retry_at, last_status = :status, '
             'last_error = :error, updated_at = :now WHERE "key" = :key',
    "failed": 'UPDATE specimens SET state = :state, step = :step, attempts = :attempts, last_status = :status, '
              'last_error = :error, updated_at = :now WHERE "key" = :key',
    "defer": 'UPDATE specimens SET retry_at = :retry_at, updated_at = :now WHERE "key" = :key',
    "published": 'UPDATE specimens SET state = :state, step = NULL, op = NULL, pending_put = :pending_put, '
                 'doi = :doi, concept_doi = :concept_doi, record_url = :record_url, '
                 'deposition_id = :deposition_id, record_id = :deposition_id, retry_at = NULL, '
                 'published_at = :now, updated_at = :now WHERE "key" = :key',
    "release": 'UPDATE specimens SET lease_owner = NULL, lease_until = NULL '
               'WHERE "key" = :key AND lease_owner = :owner',
    "file": 'UPDATE files SET uploaded = :uploaded, server_checksum = :server_checksum, md5 = :md5, '
            'sha256 = :sha256, size = :size WHERE specimen_key = :key AND name = :name',
    "attempt": 'INSERT INTO attempts (specimen_key, step, status, error, duration_ms, at) '
               'VALUES (:key, :step, :status, :error, :duration_ms, :now)',
    "versions_of": "SELECT deposition_id FROM versions WHERE specimen_key = :key",
    "version_new": 'INSERT INTO versions (specimen_key, deposition_id, version, doi, concept_doi, metadata_hash, '
                   'files_hash, files, published_at) VALUES (:key, :deposition_id, :version, :doi, :concept_doi, '
                   ':metadata_hash, :files_hash, :files, :now)',
    "version_edited": 'UPDATE versions SET metadata_hash = :metadata_hash, files_hash = :files_hash, '
                      'files = :files, modified_at = :now WHERE specimen_key = :key AND deposition_id = :deposition_id',
}
_PLACEHOLDER = re.compile(r":([a-z_][a-z0-9_]*)")


class Prepared:
    """``SQL`` in the dialect's parameter style: ``(text, names in order)`` per statement."""

    def __init__(self, dialect: str) -> None:
        postgres = dialect == "postgresql"

        def marker(match: re.Match[str]) -> str:
            if not postgres:
                return "?"
            return "CAST(%s AS JSON)" if match.group(1) == "files" else "%s"

        self.statements = {name: (_PLACEHOLDER.sub(marker, text), tuple(_PLACEHOLDER.findall(text)))
                           for name, text in SQL.items()}
        if postgres:  # skip rows another depositor is claiming, instead of waiting for them
            sql, names = self.statements["ready"]
            self.statements["ready"] = (sql + " FOR UPDATE SKIP LOCKED", names)


class Tx:
    """One group's transaction: the prepared statements, run on the driver's cursor."""

    def __init__(self, cursor: Any, prepared: Prepared) -> None:
        self.cursor = cursor
        self.prepared = prepared

    def run(self, name: str, params: dict[str, Any]) -> Any:
        """Execute the named statement; returns the cursor (for a SELECT's rows or an UPDATE's rowcount)."""
        sql, names = self.prepared.statements[name]
        self.cursor.execute(sql, tuple(params[n] for n in names))
        return self.cursor
