"""The closed set of a specimen's states in the ledger (stored as their lowercase values).

``planned -> created -> uploaded -> published -> verified``; ``uncertain`` while the outcome of a
create, newversion or publish is unknown; ``batched`` while it is in a bulk batch (``depot run --bulk``)
whose outcome is not known yet; ``failed`` after the repository refused it or retries ran out;
``rejected`` when the source itself has a problem (a missing image, a duplicate key...): nothing is sent
for a rejected specimen until its source is fixed.
"""

from __future__ import annotations

from enum import StrEnum


class State(StrEnum):
    PLANNED = "planned"
    CREATED = "created"
    UPLOADED = "uploaded"
    PUBLISHED = "published"
    VERIFIED = "verified"
    FAILED = "failed"
    UNCERTAIN = "uncertain"
    REJECTED = "rejected"
    BATCHED = "batched"


# Work still to do: a runner claims specimens in these states.
ACTIVE = (State.PLANNED, State.CREATED, State.UPLOADED, State.UNCERTAIN)
# Published on the repository (verified is published and checked).
DONE = (State.PUBLISHED, State.VERIFIED)
# Not done yet: the per-record runner's work, and specimens in a bulk batch (settled by the bulk runner).
WAITING = (*ACTIVE, State.BATCHED)
