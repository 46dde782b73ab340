"""What the resources share: config, services, links and the blob store (explicit wiring, no globals)."""

from __future__ import annotations

from dataclasses import dataclass

from depot.repository.config import RepositoryConfig
from depot.repository.jobs import JobQueue
from depot.repository.serializers.zenodo import Links
from depot.repository.services.accounts import AccountService
from depot.repository.services.actions import ActionService
from depot.repository.services.deposits import DepositService
from depot.repository.services.files import FileService
from depot.repository.services.records import RecordService
from depot.repository.services.usage import UsageService
from depot.repository.store.blobs import BlobStore


@dataclass
class Context:
    config: RepositoryConfig
    links: Links
    blobs: BlobStore
    accounts: AccountService
    deposits: DepositService
    files: FileService
    actions: ActionService
    records: RecordService
    usage: UsageService
    jobs: JobQueue
