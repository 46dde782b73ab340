"""Reconciliation marks, as rclone check: = + - * !"""

from __future__ import annotations

from depot.deposit.reconcile import AGREE, DIFFERS, ERROR, ONLY_LOCAL, ONLY_REMOTE, LocalEntry, RemoteEntry, compare


def test_marks() -> None:
    local = [
        LocalEntry("a", "published", 1, "10.5072/x.1"),
        LocalEntry("b", "uncertain", None, None),  # create timed out, but it happened
        LocalEntry("c", "planned", None, None),
        LocalEntry("d", "published", 4, "10.5072/x.4"),  # published twice by a blind retry
        LocalEntry("e", "created", 5, None),  # a draft waiting for its files
        LocalEntry("f", "published", 6, "10.5072/x.6"),  # the ledger is wrong: nothing there
    ]
    remote = [
        RemoteEntry("a", 1, True, "10.5072/x.1", "done"),
        RemoteEntry("b", 2, False, None, "unsubmitted"),
        RemoteEntry("d", 4, True, "10.5072/x.4", "done"),
        RemoteEntry("d", 7, True, "10.5072/x.7", "done"),
        RemoteEntry("e", 5, False, None, "unsubmitted"),
        RemoteEntry("z", 9, True, "10.5072/x.9", "done"),  # not in the ledger at all
    ]
    report = compare(local, remote)
    marks = {f.key: f.mark for f in report.findings}
    assert marks == {"a": AGREE, "b": DIFFERS, "c": ONLY_LOCAL, "d": ERROR, "e": DIFFERS, "f": ONLY_LOCAL,
                     "z": ONLY_REMOTE}
    assert report.summary() == {"=": 1, "+": 1, "-": 2, "*": 2, "!": 1}
    reasons = {f.key: f.reason for f in report.findings}
    assert "duplicate" in reasons["d"] and "draft" in reasons["e"] and "ledger deposition None" in reasons["b"]


def test_doi_mismatch_differs() -> None:
    report = compare([LocalEntry("a", "published", 1, "10.5072/x.1")], [RemoteEntry("a", 1, True, "10.5072/x.99")])
    assert report.findings[0].mark == DIFFERS and "DOI" in report.findings[0].reason


def test_versions_of_one_record_are_not_duplicates() -> None:
    """After `depot sync`, a specimen's concept has several published versions; the ledger holds the latest."""
    versions = [RemoteEntry("a", 11, True, "10.5072/x.11", "done", concept="10"),
                RemoteEntry("a", 15, True, "10.5072/x.15", "done", concept="10")]
    latest = compare([LocalEntry("a", "published", 15, "10.5072/x.15")], versions)
    assert latest.findings[0].mark == AGREE
    behind = compare([LocalEntry("a", "published", 11, "10.5072/x.11")], versions)
    assert behind.findings[0].mark == DIFFERS and "latest version" in behind.findings[0].reason
    twice = compare([LocalEntry("a", "published", 11, "10.5072/x.11")],
                    [versions[0], RemoteEntry("a", 12, True, "10.5072/x.12", "done", concept="12")])
    assert twice.findings[0].mark == ERROR and "duplicates" in twice.findings[0].reason
