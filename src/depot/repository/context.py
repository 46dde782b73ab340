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
from depot.repository.services.permissions import Identity
from depot.repository.services.records import RecordService
from depot.repository.services.usage import UsageService
from depot.repository.services.views import StoredFile
from depot.repository.store.blobs import BlobStore, StoredBlob


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

    def remove_blobs(self, uris: list[str]) -> None:
        """Delete stored content after the transaction that unreferenced it has committed."""
        for uri in uris:
            self.blobs.delete(uri)

    def commit(self, identity: Identity, bucket_id: str, key: str, blob: StoredBlob, *,
               replace: bool) -> StoredFile:
        """Record an uploaded blob, or delete it if the database refuses it: no stray content."""
        try:
            stored, orphans = self.files.commit_upload(identity, bucket_id, key, blob, replace=replace)
        except BaseException:
            self.blobs.delete(blob.uri)
            raise
        self.remove_blobs(orphans)
        return stored
