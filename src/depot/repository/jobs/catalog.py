"""The repository's jobs, registered by name: one line each (``register(name, fn)``; fn(ctx, **args))."""

from __future__ import annotations

from depot.repository.bulk.job import run_bulk_job
from depot.repository.jobs import register
from depot.repository.preservation import jobs as preservation

register("bag_group", preservation.write_bags)  # write_bags(ctx, items): a bulk group's bags, or waiting ones
register("bag", preservation.write_bag, group="bag_group", groupable=preservation.groupable)
register("bag_scan", preservation.scan_bags, attempts=2)
register("fixity_tick", preservation.fixity_tick, attempts=1)
register("bulk", run_bulk_job, attempts=3)  # run_bulk_job(ctx, job_id): resumes where a killed run stopped
