"""The unit of work for file content: a write transaction whose blob changes follow its outcome.

Invenio's unit of work commits the database and then runs each operation's post-commit step, or rolls back
and runs each rollback step. Depot's file services need two of those steps, so a handler never has to
remember to clean up storage:

- ``written``: content stored for this transaction (an upload's blob, written before the transaction
  began) is deleted if the transaction does not commit: the database refused it (quota, duplicate key,
  validation) or the commit itself failed;
- ``unreferenced(uris)``: content this transaction stopped referencing (a replaced or deleted file) is
  deleted only once the transaction has committed.

The order is what makes it safe: a crash between the commit and the deletes leaves at worst an
unreferenced blob, never a row naming a deleted one. ``orphans.release_files`` hands it only content no
other row uses, so content shared by another version is never deleted.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager

import sqlalchemy as sa

from depot.repository.jobs import after_commit
from depot.repository.store.blobs import StoredBlob
from depot.repository.store.db import Database
from depot.repository.store.storage import Storage


class UnitOfWork:
    """One write transaction (``conn``) and the content to delete after it commits."""

    conn: sa.Connection

    def __init__(self) -> None:
        self.committed = False
        self.unreferenced_uris: list[str] = []

    def unreferenced(self, uris: list[str]) -> None:
        """Delete the content at ``uris`` once this transaction has committed (never if it rolls back)."""
        self.unreferenced_uris.extend(uris)

    def mark_committed(self) -> None:
        self.committed = True


@contextmanager
def unit_of_work(db: Database, blobs: Storage, *, written: Sequence[StoredBlob] = ()) -> Iterator[UnitOfWork]:
    """A write transaction on ``db``; ``written``: content stored for it (an upload's blob, a bulk group's
    files), deleted unless it commits.

    What the block raises is raised again, after ``written`` is deleted; the content registered with
    ``unreferenced`` is deleted after the commit, before this returns."""
    work = UnitOfWork()
    try:
        with db.write() as conn:
            work.conn = conn
            hooks = after_commit(conn)
            assert hooks is not None  # Database.write always gives its connection the list
            # First in the list, so it runs the moment the commit is done: an error raised by a later
            # after-commit callback must not delete content a committed row now names.
            hooks.insert(0, work.mark_committed)
            yield work
    except BaseException:
        if not work.committed:
            for blob in written:
                blobs.delete(blob.uri)
        raise
    for uri in work.unreferenced_uris:
        blobs.delete(uri)
