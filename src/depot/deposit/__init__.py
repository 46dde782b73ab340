"""Depot's bulk depositor as a library: plan specimens into a ledger, deposit them with a job.

    from depot.deposit import DepositJob, JobSettings, Ledger

The names below are loaded on first use (PEP 562), so that ``depot --help`` and the other commands do
not pay for the HTTP client and the database layer they do not need.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

_EXPORTS = {
    "AuthError": "depot.deposit.errors",
    "Claim": "depot.deposit.ledger",
    "ConfigError": "depot.deposit.errors",
    "Decision": "depot.deposit.policy",
    "DepositJob": "depot.deposit.job",
    "DepotError": "depot.deposit.errors",
    "ExitCode": "depot.deposit.errors",
    "FileSpec": "depot.deposit.models",
    "HTTPStatusError": "depot.deposit.errors",
    "IntegrityError": "depot.deposit.errors",
    "JobResult": "depot.deposit.job",
    "JobSettings": "depot.deposit.job",
    "Ledger": "depot.deposit.ledger",
    "LedgerError": "depot.deposit.errors",
    "PlannedRecord": "depot.deposit.models",
    "RepositoryClient": "depot.deposit.client",
    "RunSettings": "depot.deposit.run_settings",
    "Runner": "depot.deposit.runner",
    "State": "depot.deposit.ledger",
    "Stats": "depot.deposit.progress",
    "TransportError": "depot.deposit.errors",
    "ValidationError": "depot.deposit.errors",
    "classify": "depot.deposit.policy",
    "deposit": "depot.deposit.job",
}

__all__ = [
    "AuthError",
    "Claim",
    "ConfigError",
    "Decision",
    "DepositJob",
    "DepotError",
    "ExitCode",
    "FileSpec",
    "HTTPStatusError",
    "IntegrityError",
    "JobResult",
    "JobSettings",
    "Ledger",
    "LedgerError",
    "PlannedRecord",
    "RepositoryClient",
    "RunSettings",
    "Runner",
    "State",
    "Stats",
    "TransportError",
    "ValidationError",
    "classify",
    "deposit",
]

if TYPE_CHECKING:
    from depot.deposit.client import RepositoryClient
    from depot.deposit.errors import (
        AuthError,
        ConfigError,
        DepotError,
        ExitCode,
        HTTPStatusError,
        IntegrityError,
        LedgerError,
        TransportError,
        ValidationError,
    )
    from depot.deposit.job import DepositJob, JobResult, JobSettings, deposit
    from depot.deposit.ledger import Claim, Ledger, State
    from depot.deposit.models import FileSpec, PlannedRecord
    from depot.deposit.policy import Decision, classify
    from depot.deposit.progress import Stats
    from depot.deposit.run_settings import RunSettings
    from depot.deposit.runner import Runner


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'depot.deposit' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *__all__])
