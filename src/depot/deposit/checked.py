"""Specimens with their files checked: decoded, measured and their barcodes read (depot.deposit.images),
streamed in source order with a bounded look-ahead, so that a profile can map an image's properties into
the metadata and the verdict can refuse a damaged or swapped file before anything is sent."""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Iterator

from depot.deposit.images import FileCheck, FileChecker
from depot.deposit.images.pool import Item
from depot.deposit.models import Specimen


def with_checks(specimens: Iterable[Specimen], checker: FileChecker) -> Iterator[tuple[Specimen, list[FileCheck]]]:
    """Each specimen with one FileCheck per file, in order. The checker pulls files ahead of what it has
    answered (its look-ahead), so ``pending`` holds only the specimens whose files are in flight."""
    pending: deque[Specimen] = deque()

    def items() -> Iterator[Item]:
        for specimen in specimens:
            pending.append(specimen)
            for spec in specimen.files:
                yield specimen.key, spec.path, spec.name, spec.expected

    got: list[FileCheck] = []
    for result in checker.check(items()):
        got.append(result)
        while pending and len(got) >= len(pending[0].files):
            n = len(pending[0].files)
            yield pending.popleft(), got[:n]
            got = got[n:]
    while pending:  # specimens without files after the last checked one
        yield pending.popleft(), []
