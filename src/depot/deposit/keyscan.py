"""The first pass of a streamed plan: every key of the source, read before anything is sent.

A key that two rows hold must be rejected whatever the distance between them, and no record may be
published before its duplicate is found further on. So ``depot run`` reads the key column alone first
(seconds for 281,372 rows), then streams the heavy per-record work beside the deposit. The pass keeps
one hash per key, not the keys: a repeated hash is only a candidate, confirmed with the exact keys by a
second key-only pass (run only when there are candidates), so a hash collision never rejects anything.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from depot.deposit.verdict import KeyRows

Keys = Callable[[], Iterable[tuple[str, int | None]]]  # a fresh pass over (key, row) at each call
SPREAD = 20  # keys kept spread over the source: between SPREAD and 2 * SPREAD - 1 of them


@dataclass
class KeyScan:
    """What the first pass found: how many specimens, and every duplicate key with all of its rows."""

    count: int = 0
    duplicates: KeyRows = field(default_factory=KeyRows)
    # Keys at evenly spaced rows of the whole source (the first among them): a new ledger looks for them on
    # the target as well as for its first ones, so an earlier deposit of another part of the source is
    # found too (depot.deposit.job).
    spread: list[str] = field(default_factory=list)
    _hashes: set[int] = field(default_factory=set, repr=False)

    def __contains__(self, key: object) -> bool:
        """Whether the source holds ``key`` (by its hash: a collision could only hide a 'gone' specimen)."""
        return isinstance(key, str) and hash(key) in self._hashes

    def forget(self) -> None:
        """Drop the hashes once they have served (``in`` is then False for every key)."""
        self._hashes = set()


def scan_keys(keys: Keys) -> KeyScan:
    """Find the duplicate keys of a source; ``keys`` is called once, or twice when some hash repeats."""
    scan = KeyScan()
    seen = scan._hashes
    candidates: set[int] = set()
    stride = 1
    for key, _row in keys():
        if scan.count % stride == 0:  # every stride-th key; the stride doubles as the sample fills
            scan.spread.append(key)
            if len(scan.spread) == 2 * SPREAD:
                scan.spread = scan.spread[::2]
                stride *= 2
        scan.count += 1
        h = hash(key)
        if h in seen:
            candidates.add(h)
        else:
            seen.add(h)
    if candidates:
        exact = KeyRows()
        for key, row in keys():
            if hash(key) in candidates:
                exact.add(key, row)
        scan.duplicates = exact
    return scan
