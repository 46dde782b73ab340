"""What current Zenodo's legacy layer does to deposit metadata on save, beyond the shared rules.

``depot.metadata.normalize`` holds the rules the depositor checks too; these two only change what the
repository stores and echoes (research/zenodo-api.md §2.3, §3.3):
- ``thesis_supervisors`` are folded into ``contributors`` with type ``Supervisor`` (first, as zenodo-rdm's
  ``load_contributors`` puts them), and are not echoed as ``thesis_supervisors`` any more;
- ``imprint_publisher`` defaults to the repository's name, as Zenodo's is always "Zenodo".
"""

from __future__ import annotations

from typing import Any

PUBLISHER = "Depot"  # the name the exports give as publisher too (exports/common.py)


def apply_legacy_defaults(metadata: dict[str, Any], publisher: str = PUBLISHER) -> dict[str, Any]:
    """``metadata`` (already normalised) with supervisors folded and the publisher defaulted; a new dict."""
    out = dict(metadata)
    supervisors = out.pop("thesis_supervisors", None)
    if supervisors:
        folded = [{**person, "type": "Supervisor"} for person in supervisors if isinstance(person, dict)]
        out["contributors"] = folded + list(out.get("contributors") or [])
    if not out.get("imprint_publisher"):
        out["imprint_publisher"] = publisher
    return out
