"""The repository's tables (SQLAlchemy Core). Migrations in ``migrations/versions`` create them.

Ids follow Zenodo: a record id (``recid``) and a concept id (``conceptrecid``) come from one integer
sequence (``pids``), and a deposit and the record it becomes share one id. Timestamps are UTC ISO 8601
text in the exact form Zenodo prints, so they sort as text and need no conversion.
"""

from __future__ import annotations

import sqlalchemy as sa

metadata = sa.MetaData()

users = sa.Table(
    "users",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("email", sa.String(255), nullable=False, unique=True),
    sa.Column("created", sa.String(40), nullable=False),
)

tokens = sa.Table(
    "tokens",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("user_id", sa.Integer, sa.ForeignKey("users.id"), nullable=False),
    # Only a SHA-256 of the token is kept: a leaked database leaks no credentials.
    sa.Column("token_hash", sa.String(64), nullable=False, unique=True),
    sa.Column("name", sa.String(255), nullable=False),
    sa.Column("created", sa.String(40), nullable=False),
    # Zenodo's token scopes, space-separated ("deposit:write deposit:actions"); tokens made before
    # scopes existed could upload and publish, so they keep both (migration 0006).
    sa.Column("scopes", sa.String(255), nullable=False, server_default="deposit:write deposit:actions"),
)

communities = sa.Table(
    "communities",
    metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column("slug", sa.String(100), nullable=False, unique=True),
    sa.Column("title", sa.String(255), nullable=False),
    sa.Column("owner_id", sa.Integer, sa.ForeignKey("users.id"), nullable=False),
    sa.Column("created", sa.String(40), nullable=False),
    sa.Column("description", sa.Text, nullable=False, server_default=""),  # sanitised HTML
    sa.Column("logo", sa.LargeBinary, nullable=True),  # at most services.logos.MAX_BYTES
    sa.Column("logo_type", sa.String(40), nullable=True),
)

pids = sa.Table(
    "pids",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("kind", sa.String(10), nullable=False),  # "concept" or "record"
    sqlite_autoincrement=True,  # never reuse an id, even after the highest row is deleted
)

concepts = sa.Table(
    "concepts",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("owner_id", sa.Integer, sa.ForeignKey("users.id"), nullable=False),
    sa.Column("doi", sa.String(255), nullable=True),
    sa.Column("created", sa.String(40), nullable=False),
)

deposits = sa.Table(
    "deposits",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("concept_id", sa.Integer, sa.ForeignKey("concepts.id"), nullable=False, index=True),
    sa.Column("owner_id", sa.Integer, sa.ForeignKey("users.id"), nullable=False),
    sa.Column("bucket_id", sa.String(36), nullable=False, unique=True),
    # The open draft's metadata (None when no draft is open) and the published metadata (None until
    # the first publish). A deposit is "unsubmitted", "inprogress" or "done" from these two alone.
    sa.Column("draft", sa.JSON(none_as_null=True), nullable=True),
    sa.Column("record", sa.JSON(none_as_null=True), nullable=True),
    sa.Column("doi", sa.String(255), nullable=True, unique=True),
    sa.Column("version_index", sa.Integer, nullable=True),
    sa.Column("title", sa.Text, nullable=False, default=""),
    sa.Column("created", sa.String(40), nullable=False),
    sa.Column("modified", sa.String(40), nullable=False),
    sa.Column("published", sa.String(40), nullable=True),
    # Withdrawn by the operator (a takedown): the DOI resolves to a tombstone, OAI-PMH announces a
    # deletion, the content is no longer served (migration 0005).
    sa.Column("withdrawn", sa.String(40), nullable=True),
    sa.Column("withdrawal_reason", sa.Text, nullable=True),
    # False for a metadata-only record (InvenioRDM ``files.enabled``): it publishes without files (0007).
    sa.Column("files_enabled", sa.Boolean, nullable=False, server_default=sa.true()),
    sa.Index("ix_deposits_owner_created", "owner_id", "created"),
    sa.Index("ix_deposits_published", "published"),
    sa.Index("ix_deposits_created_id", "created", "id"),  # the search's default order (migration 0008)
    sa.Index("ix_deposits_modified_id", "modified", "id"),  # OAI-PMH's keyset order (migration 0004)
)

# Exact-match search terms ("alternate.identifier", "keywords", ...) of the draft and of the record,
# so that a depositor's probe by specimen key is an index lookup, not a scan.
terms = sa.Table(
    "terms",
    metadata,
    sa.Column("deposit_id", sa.Integer, sa.ForeignKey("deposits.id", ondelete="CASCADE"), nullable=False),
    sa.Column("scope", sa.String(10), nullable=False),  # "deposit" or "record"
    sa.Column("field", sa.String(100), nullable=False),
    sa.Column("value", sa.String(1000), nullable=False),
    sa.Index("ix_terms_lookup", "field", "value"),
    sa.Index("ix_terms_deposit", "deposit_id", "scope"),
)

file_instances = sa.Table(
    "file_instances",
    metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column("uri", sa.String(255), nullable=False),  # path relative to DATA_DIR/files
    sa.Column("size", sa.BigInteger, nullable=False),
    sa.Column("md5", sa.String(32), nullable=False),
    sa.Column("sha256", sa.String(64), nullable=False),
    sa.Column("created", sa.String(40), nullable=False),
    sa.Index("ix_file_instances_uri", "uri"),  # depot repo sweep (migration 0011)
)

objects = sa.Table(
    "objects",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("bucket_id", sa.String(36), nullable=False),
    sa.Column("key", sa.String(255), nullable=False),
    sa.Column("file_id", sa.String(36), sa.ForeignKey("file_instances.id"), nullable=False, index=True),
    sa.Column("version_id", sa.String(36), nullable=False),
    sa.Column("mimetype", sa.String(255), nullable=False),
    sa.Column("created", sa.String(40), nullable=False),
    sa.Column("updated", sa.String(40), nullable=False),
    sa.UniqueConstraint("bucket_id", "key", name="uq_objects_bucket_key"),
)

# Keys the InvenioRDM API initialised (``POST .../draft/files``) and has not committed yet. Their content,
# once PUT, is an ordinary object of the bucket; the row says the upload is not complete, and a draft
# with any such row cannot be published (migration 0007).
pending_files = sa.Table(
    "pending_files",
    metadata,
    sa.Column("bucket_id", sa.String(36), primary_key=True),
    sa.Column("key", sa.String(255), primary_key=True),
    sa.Column("created", sa.String(40), nullable=False),
)

community_records = sa.Table(
    "community_records",
    metadata,
    sa.Column("community_id", sa.String(36), sa.ForeignKey("communities.id"), primary_key=True),
    sa.Column("concept_id", sa.Integer, sa.ForeignKey("concepts.id"), primary_key=True),
    sa.Column("status", sa.String(10), nullable=False),  # "accepted" or "pending", as Zenodo's requests
    sa.Column("created", sa.String(40), nullable=False),
)

# COUNTER usage events (issue 5): one row per counted landing-page view or file download. Robots are
# dropped before the insert; ``session`` is a keyed hash of IP + User-Agent + hour, never the address.
usage_events = sa.Table(
    "usage_events",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("at", sa.String(40), nullable=False),
    sa.Column("kind", sa.String(10), nullable=False),  # "view" or "download"
    sa.Column("record_id", sa.Integer, nullable=False),
    sa.Column("concept_id", sa.Integer, nullable=False),
    sa.Column("session", sa.String(32), nullable=False),
    sa.Column("item", sa.String(255), nullable=False),  # the record id for a view, the file key for a download
    sa.Index("ix_usage_events_concept", "concept_id", "id"),
)

# Fixity audit (issue 5). A run is one CLI audit or one tick of the background cycle; ``fixity_problems``
# keeps every failed check of every run (the history an OAIS audit asks for; passing checks are counted
# in the run, not stored one by one), and ``fixity_state`` each file's latest check, so that the cycle
# can pick the files checked longest ago. No foreign key to file_instances: a discarded draft's files go
# away, their history stays.
fixity_runs = sa.Table(
    "fixity_runs",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("kind", sa.String(10), nullable=False),  # "full" (CLI) or "cycle"
    sa.Column("started", sa.String(40), nullable=False),
    sa.Column("finished", sa.String(40), nullable=True),
    sa.Column("files", sa.Integer, nullable=False, default=0),
    sa.Column("bytes", sa.BigInteger, nullable=False, default=0),
    sa.Column("problems", sa.Integer, nullable=False, default=0),
)

fixity_problems = sa.Table(
    "fixity_problems",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("run_id", sa.Integer, sa.ForeignKey("fixity_runs.id"), nullable=False, index=True),
    sa.Column("file_id", sa.String(36), nullable=False, index=True),
    sa.Column("checked", sa.String(40), nullable=False),
    sa.Column("status", sa.String(10), nullable=False),  # "mismatch", "missing" or "error"
    sa.Column("detail", sa.Text, nullable=False),
)

fixity_state = sa.Table(
    "fixity_state",
    metadata,
    sa.Column("file_id", sa.String(36), primary_key=True),
    sa.Column("checked", sa.String(40), nullable=False, index=True),
    sa.Column("status", sa.String(10), nullable=False),  # "ok", "mismatch", "missing" or "error"
    sa.Column("detail", sa.Text, nullable=False, default=""),
)

# Resumable uploads (tus 1.0, ``services/uploads.py``): one row per upload, its bytes in DATA_DIR/uploads.
# ``received`` is the offset the server vouches for: it moves only after the bytes before it were fsynced,
# so it survives a restart (migration 0010).
uploads = sa.Table(
    "uploads",
    metadata,
    sa.Column("id", sa.String(32), primary_key=True),  # uuid4 hex, also the stored file's id once finished
    sa.Column("user_id", sa.Integer, sa.ForeignKey("users.id"), nullable=False),
    sa.Column("bucket_id", sa.String(36), nullable=False),
    sa.Column("key", sa.String(255), nullable=False),
    sa.Column("length", sa.BigInteger, nullable=False),
    sa.Column("received", sa.BigInteger, nullable=False),
    sa.Column("upload_metadata", sa.Text, nullable=False),  # the Upload-Metadata header, echoed by HEAD
    sa.Column("created", sa.String(40), nullable=False),
    sa.Column("expires", sa.String(40), nullable=False),
    sa.Column("finished", sa.String(40), nullable=True),
    sa.Index("ix_uploads_user", "user_id", "finished"),
    sa.Index("ix_uploads_expires", "expires"),
)

# Bulk ingest (issue 14, migration 0009). A job is one uploaded BagIt batch, unique per owner and the
# client's batch id (a replayed upload finds the job instead of making a second); ``bulk_items`` holds
# each record's outcome ("pending", "published", "exists" or "failed"); ``record_keys`` the keys bulk
# ingest has published, unique per owner: the database itself refuses a second record with one key.
bulk_jobs = sa.Table(
    "bulk_jobs",
    metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column("owner_id", sa.Integer, sa.ForeignKey("users.id"), nullable=False),
    sa.Column("batch_id", sa.String(100), nullable=False),
    sa.Column("state", sa.String(10), nullable=False),  # "received", "running", "done" or "failed"
    sa.Column("format", sa.String(10), nullable=False),  # "zip" or "tar"
    sa.Column("size", sa.BigInteger, nullable=False),
    sa.Column("total", sa.Integer, nullable=True),  # records in the bag, once it is validated
    sa.Column("created", sa.String(40), nullable=False),
    sa.Column("updated", sa.String(40), nullable=False),
    sa.Column("finished", sa.String(40), nullable=True),
    sa.Column("errors", sa.JSON, nullable=True),  # why the whole batch was refused
    sa.UniqueConstraint("owner_id", "batch_id", name="uq_bulk_jobs_owner_batch"),
    sa.Index("ix_bulk_jobs_state", "state"),
)

bulk_items = sa.Table(
    "bulk_items",
    metadata,
    sa.Column("job_id", sa.String(36), sa.ForeignKey("bulk_jobs.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("idx", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("key", sa.String(255), nullable=False),
    sa.Column("state", sa.String(10), nullable=False),
    sa.Column("deposit_id", sa.Integer, nullable=True),
    sa.Column("message", sa.Text, nullable=True),
)

record_keys = sa.Table(
    "record_keys",
    metadata,
    sa.Column("owner_id", sa.Integer, sa.ForeignKey("users.id"), primary_key=True),
    sa.Column("key", sa.String(255), primary_key=True),
    sa.Column("deposit_id", sa.Integer, sa.ForeignKey("deposits.id"), nullable=False),
)
