"""The ledger's tables: one row per specimen, its files, every attempt, every published version, runs."""

from __future__ import annotations

import sqlalchemy as sa

from depot.deposit.ledger.states import ACTIVE, State

metadata = sa.MetaData()

STATES = tuple(State)
__all__ = ["ACTIVE", "STATES", "State", "attempts", "batches", "file_checks", "files", "metadata", "resumable_uploads",
           "runs", "source_options", "specimens", "target", "versions"]

specimens = sa.Table(
    "specimens", metadata,
    sa.Column("key", sa.String(500), primary_key=True),
    sa.Column("seq", sa.Integer, nullable=False),  # source order, so work proceeds as the data manager expects
    sa.Column("state", sa.String(12), nullable=False),
    sa.Column("step", sa.String(20), nullable=True),  # the uncertain or failed step
    # What the pending work does: None creates a record; "update" brings an unpublished draft up to date
    # with a changed source; "edit" changes a published record's metadata in place (same DOI); "version"
    # publishes a new version (new DOI, same concept DOI). See depot sync.
    sa.Column("op", sa.String(10), nullable=True),
    sa.Column("record_id", sa.BigInteger, nullable=True),  # the latest published version
    # The metadata is still to be sent (PUT) before the edit or new version may be published.
    sa.Column("pending_put", sa.Boolean, nullable=False, default=False, server_default=sa.false()),
    sa.Column("deposition_id", sa.BigInteger, nullable=True),
    sa.Column("bucket_url", sa.String(1000), nullable=True),
    sa.Column("doi", sa.String(255), nullable=True),
    sa.Column("concept_doi", sa.String(255), nullable=True),
    sa.Column("record_url", sa.String(1000), nullable=True),
    sa.Column("metadata", sa.JSON(none_as_null=True), nullable=False),
    sa.Column("metadata_hash", sa.String(64), nullable=False),
    sa.Column("fingerprint", sa.String(64), nullable=False),  # metadata + file names/sizes/mtimes
    sa.Column("problems", sa.Text, nullable=True),
    # Set while the source has a problem with this specimen (state rejected, or a published specimen
    # whose source went bad): the reason, the local file concerned and the specimen's row in the source.
    sa.Column("source_row", sa.Integer, nullable=True),
    sa.Column("rejected_reason", sa.Text, nullable=True),
    sa.Column("rejected_file", sa.String(4096), nullable=True),
    sa.Column("attempts", sa.Integer, nullable=False, default=0),
    sa.Column("retry_at", sa.String(40), nullable=True),
    sa.Column("lease_owner", sa.String(100), nullable=True),
    sa.Column("lease_until", sa.String(40), nullable=True),
    sa.Column("last_status", sa.Integer, nullable=True),
    sa.Column("last_error", sa.Text, nullable=True),
    sa.Column("created_at", sa.String(40), nullable=False),
    sa.Column("updated_at", sa.String(40), nullable=False),
    sa.Column("published_at", sa.String(40), nullable=True),
    sa.Column("batch_id", sa.String(100), nullable=True),  # the bulk batch holding it (state batched), 0008
    sa.Index("ix_specimens_state_seq", "state", "seq"),
    sa.Index("ix_specimens_seq", "seq"),
    sa.Index("ix_specimens_published_at", "published_at"),
    sa.Index("ix_specimens_op_state", "op", "state"),
    sa.Index("ix_specimens_batch_id", "batch_id"),
)

files = sa.Table(
    "files", metadata,
    sa.Column("specimen_key", sa.String(500), sa.ForeignKey("specimens.key", ondelete="CASCADE"), primary_key=True),
    sa.Column("name", sa.String(255), primary_key=True),
    sa.Column("position", sa.Integer, nullable=False),
    sa.Column("path", sa.String(4096), nullable=False),
    sa.Column("size", sa.BigInteger, nullable=True),
    sa.Column("mtime_ns", sa.BigInteger, nullable=True),
    sa.Column("md5", sa.String(32), nullable=True),
    sa.Column("sha256", sa.String(64), nullable=True),
    sa.Column("uploaded", sa.Boolean, nullable=False, default=False),
    sa.Column("server_checksum", sa.String(100), nullable=True),
)

attempts = sa.Table(
    "attempts", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("specimen_key", sa.String(500), nullable=True, index=True),
    sa.Column("step", sa.String(20), nullable=False),
    sa.Column("status", sa.Integer, nullable=True),  # None: no HTTP answer
    sa.Column("error", sa.Text, nullable=True),
    sa.Column("duration_ms", sa.Integer, nullable=False),
    sa.Column("at", sa.String(40), nullable=False),
    sa.Index("ix_attempts_status", "status"),
)

versions = sa.Table(
    "versions", metadata,
    sa.Column("specimen_key", sa.String(500), primary_key=True),
    sa.Column("deposition_id", sa.BigInteger, primary_key=True),
    sa.Column("version", sa.Integer, nullable=False),
    sa.Column("doi", sa.String(255), nullable=True),
    sa.Column("concept_doi", sa.String(255), nullable=True),
    sa.Column("metadata_hash", sa.String(64), nullable=False),
    sa.Column("files_hash", sa.String(64), nullable=False),
    sa.Column("files", sa.JSON, nullable=True),  # [{name, size, md5}] of this version
    sa.Column("published_at", sa.String(40), nullable=False),
    sa.Column("modified_at", sa.String(40), nullable=True),  # the last edit in place, if any
    sa.Index("ix_versions_modified_at", "modified_at"),
)

runs = sa.Table(
    "runs", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("started", sa.String(40), nullable=False),
    sa.Column("finished", sa.String(40), nullable=True),
    sa.Column("target", sa.String(1000), nullable=False),
    sa.Column("source", sa.String(4096), nullable=False),
    sa.Column("profile", sa.String(255), nullable=False),
    sa.Column("published", sa.Integer, nullable=False, default=0),
    sa.Column("failed", sa.Integer, nullable=False, default=0),
    sa.Column("outcome", sa.String(20), nullable=True),
)

# The image check's verdict per file identity, so a rerun or a sync never decodes a file twice
# (depot.deposit.images.cache). ``id`` hashes path, name, key and rules: a PostgreSQL index cannot hold
# a 4,096-character path. A changed file (size or mtime) replaces its row.
file_checks = sa.Table(
    "file_checks", metadata,
    sa.Column("id", sa.String(64), primary_key=True),
    sa.Column("path", sa.String(4096), nullable=False),
    sa.Column("name", sa.String(255), nullable=False),
    sa.Column("specimen_key", sa.String(500), nullable=False),
    sa.Column("rules_hash", sa.String(64), nullable=False),
    sa.Column("size", sa.BigInteger, nullable=False),
    sa.Column("mtime_ns", sa.BigInteger, nullable=False),
    sa.Column("result", sa.JSON, nullable=False),
    sa.Column("checked_at", sa.String(40), nullable=False),
)

# The repository this ledger deposits into (one row, id 1): what --target was (local, zenodo, sandbox or
# an API URL) and, for local, the embedded repository's folder. Never a host's port: see depot.deposit.links.
target = sa.Table(
    "target", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("name", sa.String(1000), nullable=False),
    sa.Column("repo_dir", sa.String(4096), nullable=True),
    sa.Column("remembered_at", sa.String(40), nullable=False),
    sa.Column("api", sa.String(16), nullable=True),  # legacy or rdm (--api); NULL: not known (auto)
)

# A large file's resumable (tus) upload in progress: its URL on the target, kept before a byte is sent so
# that a rerun after a kill -9 resumes from the server's offset (deposit/resumable.py; migration 0009).
resumable_uploads = sa.Table(
    "resumable_uploads", metadata,
    sa.Column("specimen_key", sa.String(500), primary_key=True),
    sa.Column("name", sa.String(255), primary_key=True),
    sa.Column("url", sa.String(2000), nullable=False),
    sa.Column("size", sa.BigInteger, nullable=False),
    sa.Column("mtime_ns", sa.BigInteger, nullable=False),  # a changed file starts a new upload
    sa.Column("created_at", sa.String(40), nullable=False),
)

# The bulk batches of `depot run --bulk` (migration 0008): "packing" until the server has accepted the
# batch, then "sent" with the job's URL, "done" once every specimen of it has its outcome.
batches = sa.Table(
    "batches", metadata,
    sa.Column("id", sa.String(100), primary_key=True),  # the batch id the server knows it by
    sa.Column("state", sa.String(10), nullable=False),
    sa.Column("records", sa.Integer, nullable=False),
    sa.Column("job_url", sa.String(1000), nullable=True),
    sa.Column("message", sa.Text, nullable=True),
    sa.Column("created_at", sa.String(40), nullable=False),
    sa.Column("updated_at", sa.String(40), nullable=False),
)

# The source options the ledger's records were planned with (one row, id 1; depot.deposit.source_options):
# a later run or sync that is not given one takes it from here (migration 0010).
source_options = sa.Table(
    "source_options", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("options", sa.JSON, nullable=False),  # {parameter name: value}, paths absolute
    sa.Column("remembered_at", sa.String(40), nullable=False),
)
