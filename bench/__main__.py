"""``python -m bench [NAME ...] [--quick | --smoke]``: run benchmarks by name (default: all).

A bench is a module with ``main(quick: bool = False)``, registered in BENCHES; tests/test_bench_smoke.py
runs every registered bench once with --smoke, so registering one is enough to keep it from rotting.
A bench picks its sizes with ``bench.harness.sized`` (a bench that does not runs its --quick size).
"""

from __future__ import annotations

import argparse
import importlib
import os

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
    "resumable": "bench.resumable",
}


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench")
    parser.add_argument("names", nargs="*", choices=[*BENCHES, []], help="benchmarks to run (default: all)")
    size = parser.add_mutually_exclusive_group()
    size.add_argument("--quick", action="store_true", help="fewer records and rounds")
    size.add_argument("--smoke", action="store_true",
                      help="the smallest size that runs every step (a check that the bench works; "
                           "figures mean nothing); also DEPOT_BENCH_SMOKE=1")
    parser.add_argument("--size-mb", type=int, default=None,
                        help="the file size of benches that send one large file (resumable); also DEPOT_BENCH_SIZE_MB")
    args = parser.parse_args()
    if args.size_mb:
        os.environ["DEPOT_BENCH_SIZE_MB"] = str(args.size_mb)
    if args.smoke:
        os.environ["DEPOT_BENCH_SMOKE"] = "1"  # read by bench.harness.sized, and by child processes
    for name in args.names or list(BENCHES):
        importlib.import_module(BENCHES[name]).main(quick=args.quick or args.smoke)


if __name__ == "__main__":
    main()
