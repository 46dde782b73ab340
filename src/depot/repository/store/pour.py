"""A request body poured into a file and its hashes without holding up the event loop.

Hashing a large upload on the loop (md5 and sha256 together run at about 400 MB/s here) stops every other
request for as long: a 10 GB PUT held the loop for about 25 s of CPU. The body is gathered into batches,
each written and hashed on a worker thread while the next one is received (hashlib and file writes let
go of the GIL), so at most two batches are in memory. A body smaller than one batch is written on the
loop at its end (a trip to a thread would cost more than it saves), or kept for the caller (``keep_tail``)
when it goes to a thread anyway afterwards.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable

BATCH = 4 * 1024 * 1024  # bytes written and hashed per trip to the worker thread


class Pour:
    """Feed an async byte stream to ``sink``; ``check(total)`` sees the count each chunk would bring the body
    to, and may raise to refuse it. ``total`` counts the bytes taken, also after an error: they have all
    been sunk before ``__call__`` returns or raises, but for ``tail`` with ``keep_tail``: the last batch,
    left for the caller to sink (on the thread it goes to next, with the rest of its work)."""

    def __init__(self, sink: Callable[[bytearray], None], check: Callable[[int], None] | None = None, *,
                 keep_tail: bool = False) -> None:
        self.sink = sink
        self.check = check
        self.keep_tail = keep_tail
        self.total = 0
        self.tail = bytearray()
        self._pending: asyncio.Future[None] | None = None
        self._threaded = False

    async def __call__(self, chunks: AsyncIterator[bytes]) -> int:
        batch = bytearray()
        try:
            async for chunk in chunks:
                if self.check is not None:
                    self.check(self.total + len(chunk))
                self.total += len(chunk)
                batch += chunk
                if len(batch) >= BATCH:
                    await self._flush(batch, threaded=True)
                    batch = bytearray()
        finally:
            if self.keep_tail:
                self.tail = batch
            else:
                await self._flush(batch, threaded=self._threaded)
            await self._flush(bytearray(), threaded=False)
        return self.total

    async def _flush(self, batch: bytearray, *, threaded: bool) -> None:
        """Wait for the batch on the thread, then hand this one over (or sink it here)."""
        if self._pending is not None:
            done, self._pending = self._pending, None
            await done
        if not batch:
            return
        if threaded:
            self._threaded = True
            self._pending = asyncio.get_running_loop().run_in_executor(None, self.sink, batch)
        else:
            self.sink(batch)
