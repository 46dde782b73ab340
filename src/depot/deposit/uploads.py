"""Moving a claimed specimen's files into its draft: align a draft that may hold files already, then send
each file not yet there, by PUT or, above the threshold where the target offers it, by tus.

A file is sent only if it is still the one checked and planned (its size and modification time, then its
md5 or sha256 where one was planned): other bytes were never decoded nor compared with their checksum.
``Uploads`` is the part of :class:`depot.deposit.runner.Runner` that does this.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from depot.deposit.errors import ContentChangedError, FileChangedError
from depot.deposit.inspect_files import md5_of
from depot.deposit.ledger import Claim, FileRow
from depot.deposit.links import on_target
from depot.deposit.progress import Stats

if TYPE_CHECKING:
    from depot.deposit.client import RepositoryClient
    from depot.deposit.ledger.journal import Journal
    from depot.deposit.resumable import Resumable
    from depot.deposit.run_settings import RunSettings


def bucket_of(deposition: dict[str, Any]) -> str:
    return str((deposition.get("links") or {}).get("bucket") or "")


class Uploads:
    """File transfer, mixed into the Runner (which provides the attributes and the call below)."""

    ledger: Journal
    client: RepositoryClient
    settings: RunSettings
    stats: Stats
    resumable: Resumable
    _drafts: dict[str, dict[str, Any]]

    async def _call(self, key: str | None, step: str, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError

    async def _align_files(self, claim: Claim) -> Any:
        """Make a draft (a new version's, or an unpublished one whose source changed) hold exactly the
        wanted files: keep those whose content is unchanged, delete the rest. Works from the draft's own
        list, so it is safe to repeat."""
        draft = self._drafts.pop(claim.key, None) or await self._call(claim.key, "get", self.client.get,
                                                                      claim.deposition_id)
        present = {str(f.get("filename") or f.get("key")): str(f.get("checksum", "")).removeprefix("md5:")
                   for f in draft.get("files") or []}
        wanted: dict[str, str] = {}
        for spec in claim.files:
            md5 = await self._md5(spec)
            wanted[spec.name] = md5
            if present.get(spec.name) == md5 and not spec.uploaded:
                await self.ledger.mark_file_present(claim.key, spec.name, md5=md5)
        bucket = on_target(claim.bucket_url, self.client.api_url) or bucket_of(draft)
        for name, md5 in present.items():
            if wanted.get(name) != md5:
                await self._call(claim.key, "delete-file", self.client.delete_file, bucket, name)
        return await self.ledger.get(claim.key)

    @staticmethod
    async def _md5(spec: FileRow) -> str:
        return spec.md5 if spec.md5 else await asyncio.to_thread(md5_of, spec.path)

    async def _upload(self, claim: Claim) -> None:
        if claim.op in ("version", "update"):  # a draft that may hold files already
            claim = await self._align_files(claim)
        bucket = on_target(claim.bucket_url, self.client.api_url)  # the ledger keeps the path only
        if not bucket and any(not f.uploaded for f in claim.files):
            deposition = await self._call(claim.key, "get", self.client.get, claim.deposition_id)
            bucket = bucket_of(deposition)
        for spec in claim.files:
            if spec.uploaded:
                continue
            upload = await self._send(claim.key, bucket, spec)
            for algorithm, planned, sent in (("md5", spec.md5, upload.md5), ("sha256", spec.sha256, upload.sha256)):
                if planned and sent != planned:  # known at planning (a checksum file, a sync's hash): not these
                    raise ContentChangedError(spec.path, algorithm, planned, sent)
            self.stats.bytes_sent += upload.size
            await self.ledger.mark_file_uploaded(claim.key, spec.name, server_checksum=f"md5:{upload.md5}",
                                           md5=upload.md5, sha256=upload.sha256, size=upload.size)
        if claim.pending_put:
            # newversion drops publication_date and version; an edit carries the new metadata.
            await self._call(claim.key, "update", self.client.update, claim.deposition_id, claim.metadata)
            await self.ledger.mark_metadata_sent(claim.key)
        await self.ledger.mark_ready(claim.key)

    async def _send(self, key: str, bucket: Any, spec: FileRow) -> Any:
        """One file: a resumable (tus) upload above the threshold where the target offers it, else a PUT.
        The planned size decides (a trip to a thread to ask the disk cost a small file 3 ms of latency at 16
        in flight); only a large file, or one planned without its size, is looked at now."""
        path = Path(spec.path)
        threshold = self.settings.resumable_threshold
        # The file as it was checked and planned: other bytes were never decoded nor compared with their checksum
        expect = spec.planned
        if spec.size is None or spec.size > threshold:
            st = await asyncio.to_thread(path.stat)
            if st.st_size > threshold and await self.resumable.supported():
                FileChangedError.unless_same(str(path), expect, st.st_size, st.st_mtime_ns)
                return await self._send_resumable(key, bucket, spec.name, path, st)
        return await self._call(key, "upload", self.client.put_file, bucket, spec.name, path, expect=expect)

    async def _send_resumable(self, key: str, bucket: Any, name: str, path: Path, st: os.stat_result) -> Any:
        """A tus upload, resuming the one an earlier try or run left for this file if the file is unchanged."""
        from depot.deposit.ledger import remembered_uploads as remembered

        known = [await asyncio.to_thread(remembered.recall, self.ledger.ledger, key, name, st.st_size,
                                         st.st_mtime_ns)]

        async def remember(url: str) -> None:
            known[0] = url  # an in-place retry of this call resumes it too
            await asyncio.to_thread(remembered.remember, self.ledger.ledger, key, name, url, st.st_size,
                                    st.st_mtime_ns)

        async def resumable() -> Any:
            return await self.resumable.upload(bucket, name, path, known_url=known[0], remember=remember)

        upload = await self._call(key, "upload", resumable)
        await asyncio.to_thread(remembered.forget, self.ledger.ledger, key, name)
        return upload
