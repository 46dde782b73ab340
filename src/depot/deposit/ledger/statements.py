"""The ledger's hot statements, built once and run with parameters.

Building Core statements per call was half of `depot run`'s CPU time (cProfile, 800 records against
`depot serve`); a constant statement memoises its compilation and cache key. ``b_*`` names are WHERE
parameters; the other parameters are column values.
"""

from __future__ import annotations

import sqlalchemy as sa

from depot.deposit.ledger.states import State
from depot.deposit.ledger.tables import ACTIVE, attempts, files, specimens

KEYS: sa.BindParameter[list[str]] = sa.bindparam("b_keys", expanding=True)
_READY = sa.and_(specimens.c.state.in_(ACTIVE),
                 sa.or_(specimens.c.retry_at.is_(None), specimens.c.retry_at <= sa.bindparam("b_now")),
                 sa.or_(specimens.c.lease_until.is_(None), specimens.c.lease_until < sa.bindparam("b_now")))

READY_KEYS = sa.select(specimens.c.key).where(_READY).order_by(specimens.c.seq).limit(sa.bindparam("b_limit"))
LEASE = specimens.update().where(specimens.c.key.in_(KEYS), _READY)
SPECIMENS_BY_KEYS = sa.select(specimens).where(specimens.c.key.in_(KEYS)).order_by(specimens.c.seq)
FILES_BY_KEYS = sa.select(files).where(files.c.specimen_key.in_(KEYS)).order_by(files.c.position)
UPDATE_SPECIMEN = specimens.update().where(specimens.c.key == sa.bindparam("b_key"))
BUMP_ATTEMPTS = specimens.update().where(specimens.c.key == sa.bindparam("b_key")).values(
    attempts=specimens.c.attempts + 1)
RELEASE = specimens.update().where(specimens.c.key == sa.bindparam("b_key"),
                                   specimens.c.lease_owner == sa.bindparam("b_owner"))
PENDING_FILES = sa.select(sa.func.count()).select_from(files).where(
    files.c.specimen_key == sa.bindparam("b_key"), files.c.uploaded.is_(False))
UPDATE_FILE = files.update().where(files.c.specimen_key == sa.bindparam("b_key"),
                                   files.c.name == sa.bindparam("b_name"))
# Only once the metadata of an edit or new version is sent too (pending_put).
CREATED_TO_UPLOADED = specimens.update().where(specimens.c.key == sa.bindparam("b_key"),
                                               specimens.c.state == State.CREATED,
                                               specimens.c.pending_put == sa.false())
INSERT_ATTEMPT = attempts.insert()
