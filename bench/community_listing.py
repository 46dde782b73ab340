"""Time to serve a community listing of 100,000 records (issue 5), CSV and JSON, from `depot serve`.

The records are written straight into a fresh repository database (the same tables publish writes), then
the listing is fetched over loopback and read to the end; prints seconds, records/s and MB.
"""

from __future__ import annotations

import tempfile
import time
import uuid
from pathlib import Path

import httpx

from bench.harness import median, serve, sized, table
from depot.repository.services.accounts import AccountService
from depot.repository.store.db import Database
from depot.repository.store.tables import community_records, concepts, deposits, file_instances, objects, pids

NOW = "2026-11-24T00:00:00.000000+00:00"


def populate(data: Path, n: int) -> str:
    db = Database.open(f"sqlite:///{data / 'repository.sqlite3'}")
    accounts = AccountService(db)
    community = accounts.create_community("bench-herbarium", "Bench herbarium", "curator@example.org", NOW)
    with db.write() as conn:
        conn.execute(pids.insert(), [{"kind": "x"} for _ in range(2 * n)])
    for start in range(0, n, 10_000):
        batch = range(start, min(n, start + 10_000))
        with db.write() as conn:
            conn.execute(concepts.insert(), [{"id": 2 * i + 1, "owner_id": community.owner_id, "created": NOW,
                                              "doi": f"10.5072/depot.{2 * i + 1}"} for i in batch])
            conn.execute(deposits.insert(), [{
                "id": 2 * i + 2, "concept_id": 2 * i + 1, "owner_id": community.owner_id, "bucket_id": f"b{i}",
                "draft": None, "doi": f"10.5072/depot.{2 * i + 2}", "version_index": 1, "title": f"Sheet {i}",
                "created": NOW, "modified": NOW, "published": NOW,
                "record": {"title": f"Fucus vesiculosus L. (BR{i:010d})", "publication_date": "2026-11-24",
                           "related_identifiers": [{"identifier": f"https://www.botanicalcollections.be/specimen/"
                                                    f"BR{i:010d}", "relation": "isAlternateIdentifier"}]},
            } for i in batch])
            ids = [str(uuid.uuid4()) for _ in batch]
            conn.execute(file_instances.insert(), [{"id": fid, "uri": f"x/{fid}", "size": 2_500_000 + i,
                                                    "md5": f"{i:032x}", "sha256": f"{i:064x}", "created": NOW}
                                                   for fid, i in zip(ids, batch, strict=True)])
            conn.execute(objects.insert(), [{"bucket_id": f"b{i}", "key": f"BR{i:010d}.jpg", "file_id": fid,
                                             "version_id": fid, "mimetype": "image/jpeg", "created": NOW,
                                             "updated": NOW} for fid, i in zip(ids, batch, strict=True)])
            conn.execute(community_records.insert(), [{"community_id": community.id, "concept_id": 2 * i + 1,
                                                       "status": "accepted", "created": NOW} for i in batch])
    db.dispose()
    return community.slug


def main(quick: bool = False) -> None:
    n, rounds = sized(quick, (100_000, 3), (10_000, 1), (500, 1))
    rows = []
    with tempfile.TemporaryDirectory(prefix="depot-bench-listing-") as tmp:
        data = Path(tmp)
        slug = populate(data, n)
        # The records are inserted straight into the database, so they have no bags: a server with bagging on
        # would spend its first minutes writing 100,000 of them beside the listing (78 s instead of 3 s for
        # the first round, measured). Bags and the fixity cycle are off: this measures the listing alone.
        with serve("--rate-limit", "0", data_dir=data,
                   env={"DEPOT_BAGS": "false", "DEPOT_FIXITY_CYCLE": "false"}) as server:
            for fmt in ("csv", "json"):
                times, size = [], 0
                for _ in range(rounds):
                    started = time.perf_counter()
                    with httpx.stream("GET", f"{server.base}/api/communities/{slug}/listing",
                                      params={"format": fmt}, timeout=600) as r:
                        size = sum(len(chunk) for chunk in r.iter_bytes())
                    times.append(time.perf_counter() - started)
                rows.append([fmt, n, " ".join(f"{t:.2f}" for t in times), f"{median(times):.2f}",
                             f"{n / median(times):.0f}", f"{size / 1e6:.1f}"])
    table(f"community listing of {n} records from depot serve (SQLite), read to the end",
          ["format", "records", "seconds per round", "median s", "records/s", "MB"], rows)
