"""Server-side render time of the record, search and community pages with 100,000 records (issue 15).

The records are written straight into a fresh SQLite repository database (the rows publish writes: deposits,
files, community membership, search terms and facet values), then three records are published through the
API with a real image so their pages have everything a page can show (viewer, map, citations, versions).
Each page is requested in-process through the ASGI app (no socket; the time is the server's: routing,
queries, rendering) and p50/p95 are printed. ``DEPOT_BENCH_RECORDS`` sets the count (CI smoke-runs 2,000).

    python -m bench pages            # 100,000 records
    DEPOT_BENCH_RECORDS=2000 python -m bench pages
"""

from __future__ import annotations

import io
import os
import statistics
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

from bench.harness import table
from depot.repository.services.facets import facet_values
from depot.repository.services.search import index_terms
from depot.repository.store.db import Database
from depot.repository.store.tables import (
    community_records,
    concepts,
    deposits,
    file_instances,
    objects,
    pids,
    terms,
)

NOW = "2026-11-24T00:00:00.000000+00:00"


def _stamp(i: int) -> str:
    """A distinct time for record ``i`` (one a second from NOW), as real publishes have."""
    return f"2026-11-{24 + i // 86_400 % 5:02d}T{i // 3600 % 24:02d}:{i // 60 % 60:02d}:{i % 60:02d}.000000+00:00"
SLUG = "bench-herbarium"
GOAL_MS = 50.0
GENERA = ("Fucus", "Carex", "Eriophorum", "Sphagnum", "Salix", "Betula", "Poa", "Juncus")


def _metadata(i: int) -> dict[str, Any]:
    genus = GENERA[i % len(GENERA)]
    return {
        "title": f"{genus} specimen {i} (BR{i:010d})", "upload_type": "image", "image_type": "photo",
        "publication_date": "2026-11-24", "access_right": "open", "license": "cc-by-4.0",
        "description": f"<p>Herbarium sheet of <em>{genus}</em>, digitised.</p>",
        "creators": [{"name": "Meise Botanic Garden"}], "keywords": ["Herbarium", genus],
        "communities": [{"identifier": SLUG}],
        "related_identifiers": [{"identifier": f"https://www.botanicalcollections.be/specimen/BR{i:010d}",
                                 "relation": "isAlternateIdentifier", "scheme": "url"}],
        "custom": {"dwc:scientificName": [f"{genus} sp."], "dwc:catalogNumber": [f"BR{i:010d}"],
                   "dwc:decimalLatitude": ["50.93"], "dwc:decimalLongitude": ["4.33"]},
    }


def populate(db: Database, owner_id: int, community_id: str, n: int) -> None:
    """``n`` published single-version records of one image each, in batches of 5,000."""
    with db.write() as conn:
        conn.execute(pids.insert(), [{"kind": "x"} for _ in range(2 * n)])
    for start in range(0, n, 5_000):
        batch = range(start, min(n, start + 5_000))
        records = {i: _metadata(i) for i in batch}
        ids = {i: str(uuid.uuid4()) for i in batch}
        with db.write() as conn:
            conn.execute(concepts.insert(), [{"id": 2 * i + 1, "owner_id": owner_id, "created": NOW,
                                              "doi": f"10.5072/depot.{2 * i + 1}"} for i in batch])
            conn.execute(deposits.insert(), [{
                "id": 2 * i + 2, "concept_id": 2 * i + 1, "owner_id": owner_id, "bucket_id": f"b{i}",
                "draft": None, "doi": f"10.5072/depot.{2 * i + 2}", "version_index": 1, "title": records[i]["title"],
                "created": _stamp(i), "modified": _stamp(i), "published": _stamp(i), "record": records[i]}
                for i in batch])
            conn.execute(file_instances.insert(), [{"id": ids[i], "uri": f"x/{ids[i]}", "size": 2_500_000 + i,
                                                    "md5": f"{i:032x}", "sha256": f"{i:064x}", "created": NOW}
                                                   for i in batch])
            conn.execute(objects.insert(), [{"bucket_id": f"b{i}", "key": f"BR{i:010d}.jpg", "file_id": ids[i],
                                             "version_id": ids[i], "mimetype": "image/jpeg", "created": NOW,
                                             "updated": NOW} for i in batch])
            conn.execute(community_records.insert(), [{"community_id": community_id, "concept_id": 2 * i + 1,
                                                       "status": "accepted", "created": NOW} for i in batch])
            rows = [{"deposit_id": 2 * i + 2, "scope": "record", "field": field, "value": value}
                    for i in batch for field, value in index_terms(records[i])]
            rows += [{"deposit_id": 2 * i + 2, "scope": "record", "field": f"facet.{facet}", "value": value}
                     for i in batch for facet, value in facet_values(records[i], files_enabled=True,
                                                                     keys=[f"BR{i:010d}.jpg"])]
            conn.execute(terms.insert(), rows)


def _png(seed: int) -> bytes:
    from PIL import Image

    out = io.BytesIO()
    Image.linear_gradient("L").resize((600, 900)).rotate(seed).convert("RGB").save(out, "PNG")
    return out.getvalue()


def _publish(client: Any, headers: dict[str, str], i: int) -> int:
    """One record published through the API, with an image: what a depositor's record looks like."""
    meta = {**_metadata(10_000_000 + i), "title": f"Eriophorum angustifolium Honck. (E{i:08d})"}
    r = client.post("/api/deposit/depositions", headers=headers, json={"metadata": meta})
    assert r.status_code == 201, r.text
    dep = r.json()
    r = client.put(f"{dep['links']['bucket']}/sheet.png", headers=headers, content=_png(i))
    assert r.status_code in (200, 201), r.text
    r = client.post(dep["links"]["publish"], headers=headers)
    assert r.status_code == 202, r.text
    return int(r.json()["id"])


def _time(client: Any, url: str, rounds: int) -> list[float]:
    times = []
    for _ in range(rounds):
        started = time.perf_counter()
        r = client.get(url)
        times.append((time.perf_counter() - started) * 1000)
        assert r.status_code == 200, (url, r.status_code, r.text[:300])
    return times


def _p(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[int(q) - 1] if len(values) > 1 else values[0]


def main(quick: bool = False) -> None:
    import warnings

    with warnings.catch_warnings():  # starlette's note that httpx2 will replace httpx in its test client
        warnings.simplefilter("ignore")
        from starlette.testclient import TestClient

    from depot.repository.app import build_context, create_app
    from depot.repository.config import from_env

    n = int(os.environ.get("DEPOT_BENCH_RECORDS") or (2_000 if quick else 100_000))
    rounds = 20 if quick else 200
    search_rounds = 10 if quick else 30  # a search page takes ~10x a record page at 100,000
    with tempfile.TemporaryDirectory(prefix="depot-bench-pages-") as tmp:
        data = Path(tmp)
        # No bags or fixity cycle: the records were not published through the app, and this measures pages.
        config = from_env(environ={}, data_dir=data, bags=False, fixity_cycle=False,
                             user_limit_per_minute=0, user_limit_per_hour=0, search_limit_per_minute=0)
        ctx = build_context(config)
        started = time.perf_counter()
        community = ctx.accounts.create_community(SLUG, "Bench herbarium", "curator@example.org", NOW,
                                                  description="<p>Sheets of the bench herbarium.</p>")
        populate(ctx.deposits.db, community.owner_id, community.id, n)
        fill = time.perf_counter() - started
        token = ctx.accounts.create_token("bench@example.org", NOW)
        headers = {"Authorization": f"Bearer {token}"}
        client = TestClient(create_app(config, context=ctx))  # no lifespan: no background work
        published = [_publish(client, headers, i) for i in range(3)]
        pages = [("record (published via API, image)", f"/records/{published[-1]}"),
                 ("record (bulk-filled)", f"/records/{n + 2}"),  # the middle of the table
                 ("search, no query", "/search"),
                 ("search, q + facet", "/search?q=Carex&f=subject:Herbarium"),
                 ("community", f"/communities/{SLUG}")]
        rows = []
        for name, url in pages:
            _time(client, url, 3)  # warm: templates compiled, caches filled
            times = _time(client, url, rounds if name.startswith("record") else search_rounds)
            p50 = statistics.median(times)
            goal = ("yes" if p50 < GOAL_MS else "NO") if name.startswith("record") else ""
            rows.append([name, n, len(times), f"{p50:.1f}", f"{_p(times, 95):.1f}", goal])
        ctx.deposits.db.dispose()
    table(f"page render time in-process (SQLite, {n} records filled in {fill:.0f} s)",
          ["page", "records", "rounds", "p50 ms", "p95 ms", f"record p50 < {GOAL_MS:.0f} ms"], rows)
