"""Write statements built once and reused with parameters.

Building a Core statement (and its cache key) per request cost more than executing it on SQLite
(cProfile of bench/repository_cycle.py); a constant statement memoises both. Pass the column values as
the parameter dict; ``b_*`` names are the WHERE parameters.
"""

from __future__ import annotations

import sqlalchemy as sa

from depot.repository.store.tables import concepts, deposits, file_instances, objects, pids, terms

INSERT_PID = pids.insert()
INSERT_CONCEPT = concepts.insert()
UPDATE_CONCEPT = concepts.update().where(concepts.c.id == sa.bindparam("b_id"))
INSERT_DEPOSIT = deposits.insert()
UPDATE_DEPOSIT = deposits.update().where(deposits.c.id == sa.bindparam("b_id"))
INSERT_FILE_INSTANCE = file_instances.insert()
INSERT_OBJECT = objects.insert()
UPDATE_OBJECT = objects.update().where(objects.c.bucket_id == sa.bindparam("b_bucket"),
                                       objects.c.key == sa.bindparam("b_key"))
DELETE_OBJECT = objects.delete().where(objects.c.bucket_id == sa.bindparam("b_bucket"),
                                       objects.c.key == sa.bindparam("b_key"))
INSERT_TERMS = terms.insert()
DELETE_TERMS = terms.delete().where(terms.c.deposit_id == sa.bindparam("b_id"),
                                    terms.c.scope == sa.bindparam("b_scope"))
OBJECT_USES = sa.select(objects.c.id).where(objects.c.file_id == sa.bindparam("b_file")).limit(1)
