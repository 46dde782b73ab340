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
