"""How hard and how wide a run works: the runner's settings, shared by the runner and its probes."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class RunSettings:
    transfers: int = 8  # records in flight
    low_level_retries: int = 5  # per request
    resumable_threshold: int = 64 * 1024 * 1024  # files above this many bytes go through tus, where offered
    resumable_chunk: int = 32 * 1024 * 1024  # bytes per tus PATCH
    retries: int = 3  # per record, across the run
    lease_seconds: float = 300.0
    probe_delay: float = 2.0  # Zenodo's search lags writes: wait before looking for an uncertain create
    probe_recheck: float = 5.0  # and look once more, this much later, before concluding it was not created
    backoff_base: float = 1.0
    backoff_cap: float = 300.0
    max_records: int | None = None
    adaptive: bool = True
