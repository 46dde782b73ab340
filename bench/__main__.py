"""``python -m bench [NAME ...]``: run benchmarks by name (default: all)."""

from __future__ import annotations

import argparse
import importlib

BENCHES = {
    "repository": "bench.repository_cycle",
    "http-clients": "bench.http_clients",
    "deposit": "bench.deposit_run",
    "planning": "bench.planning_stream",
    "overhead": "bench.deposit_overhead",
    "listing": "bench.community_listing",
    "iiif": "bench.iiif_tiles",
    "fixity": "bench.fixity",
    "sync": "bench.sync_budget",
    "report-html": "bench.report_html",
    "faults": "bench.fault_throughput",
    "flood": "bench.body_flood",
    "barcodes": "bench.barcode_check",
    "ledger": "bench.ledger_scale",
    "verify": "bench.verify_scale",
    "budget": "bench.rate_budget",
    "lost-answers": "bench.lost_answers",
    "pages": "bench.page_render",
}


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench")
    parser.add_argument("names", nargs="*", choices=[*BENCHES, []], help="benchmarks to run (default: all)")
    parser.add_argument("--quick", action="store_true", help="fewer records and rounds (a smoke run)")
    args = parser.parse_args()
    for name in args.names or list(BENCHES):
        importlib.import_module(BENCHES[name]).main(quick=args.quick)


if __name__ == "__main__":
    main()
