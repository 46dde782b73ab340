"""Settings of the repository server: one table of (name, default, help), read from flags or DEPOT_* env."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

GB = 10**9
MIB = 1024 * 1024
MAX_BAG_PROCESSES = 64


@dataclass(frozen=True)
class Setting:
    name: str
    default: Any
    help: str


SETTINGS: tuple[Setting, ...] = (
    Setting("data_dir", "depot-data", "Directory for the embedded database, stored files and temporary uploads."),
    Setting("db_url", None, "SQLAlchemy database URL; default is SQLite (WAL) at DATA_DIR/repository.sqlite3."),
    Setting("base_url", "http://127.0.0.1:5000", "Public base URL used in links (scheme, host, port)."),
    Setting("doi_prefix", "10.5072", "DOI prefix; 10.5072 is DataCite's test prefix, as on the Zenodo sandbox."),
    Setting("doi_name", "depot", "DOI name part: DOIs are PREFIX/NAME.RECID, as 10.5281/zenodo.123."),
    Setting("oai_page_size", 50, "Records or identifiers per OAI-PMH list response (Zenodo: 50)."),
    Setting("oai_token_seconds", 120, "Lifetime of an OAI-PMH resumption token in seconds (Zenodo: 120)."),
    Setting("admin_email", None, "Contact address in OAI-PMH Identify; default repository@HOST of base_url."),
    Setting("user_limit_per_minute", 100, "Requests per user (or anonymous IP) per minute; 0 disables."),
    Setting("user_limit_per_hour", 5000, "Requests per user (or anonymous IP) per hour; 0 disables."),
    Setting("user_limit_minute_seconds", 60, "Length in seconds of the per-minute limit's window (tests shorten it)."),
    Setting("user_limit_hour_seconds", 3600, "Length in seconds of the per-hour limit's window (tests shorten it)."),
    Setting("search_limit_per_minute", 30, "Record searches per user per minute (Zenodo: 30); 0 disables."),
    Setting("search_lag_seconds", 0.0, "Simulated search-index lag: depositions and records younger than this "
            "are missing from lists and searches, as on Zenodo, whose index trails writes; 0 = exact. Declared to "
            "depositors in X-Depot-Search-Lag."),
    Setting("max_files_per_record", 100, "Most files one record may hold (Zenodo: 100)."),
    Setting("record_quota_bytes", 50 * GB, "Most bytes one record may hold (Zenodo: 50 GB)."),
    Setting("multipart_max_bytes", 100 * MIB, "Largest legacy multipart POST body (Zenodo: 100 MiB)."),
    Setting("json_max_bytes", 2 * MIB, "Largest JSON request body, e.g. a deposition's metadata (Zenodo: 100 MiB, "
            "its limit for any request); larger → 413 before the body is read."),
    Setting("upload_max_bytes", 50 * GB, "Largest resumable (tus) upload, announced as Tus-Max-Size; a record's "
            "quota (record_quota_bytes) still applies."),
    Setting("upload_expiry_hours", 24, "An unfinished resumable upload expires this many hours after its last "
            "PATCH (Upload-Expires); its bytes are then deleted."),
    Setting("uploads_per_user", 20, "Most unfinished resumable uploads one user may hold open at once."),
    Setting("bulk_max_records", 10_000, "Most records one bulk-ingest batch (POST /api/bulk) may hold."),
    Setting("bulk_max_bytes", 20 * GB, "Largest bulk-ingest upload in bytes, as sent and as unpacked; larger → 413."),
    Setting("fsync", True, "fsync stored files and their directory before they become visible."),
    Setting("bags", True, "Write a BagIt bag of every published version under DATA_DIR/bags (the AIP)."),
    Setting("bag_processes", 1, "Processes that write the bags beside `depot serve` (0: a thread of the server, "
            "which then shares its CPU with the requests); a `depot worker` writes its bags itself."),
    Setting("bag_source_organization", "Depot repository", "Source-Organization in every bag's bag-info.txt."),
    Setting("fixity_cycle", True, "Re-hash stored files in the background (the fixity cycle): in `depot serve`, "
            "or in the `depot worker` processes when a queue_url is set."),
    Setting("fixity_period_days", 14, "The fixity cycle checks every stored file once per this many days."),
    Setting("fixity_tick_seconds", 3600, "Seconds between the fixity cycle's batches (oldest-checked first)."),
    Setting("fixity_mb_per_s", 50, "Read rate cap of the fixity cycle in MB/s (leaves I/O for requests); 0 = none."),
    Setting("queue_url", None, "Job queue for bags and the fixity cycle: a PostgreSQL URL runs them as "
            "procrastinate jobs in `depot worker` processes (the repository's own database: each bag job is queued "
            "in its publish transaction); unset: a thread inside `depot serve` runs them (one process only)."),
    Setting("rate_limit_storage", "memory://", "Where the rate limits count requests (a `limits` storage URL): "
            "memory:// (one process) or redis://HOST:PORT/DB, shared by every web worker and machine."),
    Setting("admin_token", None, "Bearer token for /api/admin/* (fixity report); unset disables those routes."),
    Setting("keep_alive_seconds", 120, "Seconds an idle keep-alive connection stays open; longer than clients' own "
            "idle expiry (httpx 5, aiohttp 15, Go 90), so that a client, never the server, closes an idle "
            "connection and no request is sent into a closing one (uvicorn's default, 5, lost about 1 request "
            "in 1,000 from clients pausing about 5 s)."),
    Setting("access_log", None, "Append one JSON line per request to this file ('-' for standard error); "
            "unset: uvicorn's text access log, shown at --log-level info only."),
    Setting("map_tile_url", None, "Leaflet tile URL template for the record page's locality map, e.g. "
            "https://tile.example.org/{z}/{x}/{y}.png (your own or a provider whose terms allow it); unset: the page "
            "shows the coordinates and a link to OpenStreetMap, and makes no request to a tile server."),
    Setting("map_tile_attribution", None, "Attribution shown on the map, as the tile provider's terms ask "
            "(e.g. '© OpenStreetMap contributors')."),
)


@dataclass(frozen=True)
class RepositoryConfig:
    """Everything the server needs, resolved once at start-up (never read at import time)."""

    data_dir: Path = Path("depot-data")
    db_url: str | None = None
    base_url: str = "http://127.0.0.1:5000"
    doi_prefix: str = "10.5072"
    doi_name: str = "depot"
    oai_page_size: int = 50
    oai_token_seconds: int = 120
    admin_email: str | None = None
    user_limit_per_minute: int = 100
    user_limit_per_hour: int = 5000
    user_limit_minute_seconds: int = 60
    user_limit_hour_seconds: int = 3600
    search_limit_per_minute: int = 30
    search_lag_seconds: float = 0.0
    max_files_per_record: int = 100
    record_quota_bytes: int = 50 * GB
    multipart_max_bytes: int = 100 * MIB
    json_max_bytes: int = 2 * MIB
    upload_max_bytes: int = 50 * GB
    upload_expiry_hours: int = 24
    uploads_per_user: int = 20
    bulk_max_records: int = 10_000
    bulk_max_bytes: int = 20 * GB
    fsync: bool = True
    bags: bool = True
    bag_processes: int = 1
    bag_source_organization: str = "Depot repository"
    fixity_cycle: bool = True
    fixity_period_days: int = 14
    fixity_tick_seconds: int = 3600
    fixity_mb_per_s: int = 50
    queue_url: str | None = None
    rate_limit_storage: str = "memory://"
    admin_token: str | None = None
    keep_alive_seconds: int = 120
    access_log: str | None = None
    map_tile_url: str | None = None
    map_tile_attribution: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def database_url(self) -> str:
        return self.db_url or f"sqlite:///{self.data_dir / 'repository.sqlite3'}"

    @property
    def api_url(self) -> str:
        return self.base_url.rstrip("/") + "/api"

    def with_overrides(self, **values: Any) -> RepositoryConfig:
        known = {f.name for f in fields(self)}
        return replace(self, **{k: v for k, v in values.items() if k in known and v is not None})


def from_env(environ: Mapping[str, str] | None = None, defaults: dict[str, Any] | None = None,
             **overrides: Any) -> RepositoryConfig:
    """Build a config from ``defaults`` (which replace the table's, e.g. a base URL from --host and --port),
    then DEPOT_<NAME> variables, then explicit overrides (flags) on top."""
    env = os.environ if environ is None else environ
    values: dict[str, Any] = dict(defaults or {})
    for setting in SETTINGS:
        raw = env.get(f"DEPOT_{setting.name.upper()}")
        if raw is None:
            continue
        kind = type(setting.default)
        if kind is bool:
            values[setting.name] = raw.strip().lower() in {"1", "true", "yes", "on"}
        elif kind in (int, float):
            try:
                values[setting.name] = kind(raw)
            except ValueError:
                raise ValueError(f"DEPOT_{setting.name.upper()} must be a number, got {raw!r}") from None
        else:
            values[setting.name] = raw
    values.update({k: v for k, v in overrides.items() if v is not None})
    if "data_dir" in values:
        values["data_dir"] = Path(values["data_dir"])
    if not 0 <= int(values.get("bag_processes", 1)) <= MAX_BAG_PROCESSES:
        raise ValueError(f"DEPOT_BAG_PROCESSES must be 0 to {MAX_BAG_PROCESSES}, got {values['bag_processes']}")
    return RepositoryConfig().with_overrides(**values)
