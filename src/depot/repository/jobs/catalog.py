"""The repository's jobs, registered by name: one line each (``register(name, fn)``; fn(ctx, **args))."""

from __future__ import annotations

from depot.repository.jobs import register
from depot.repository.preservation import jobs as preservation

register("bag", preservation.write_bag)
register("bag_scan", preservation.scan_bags, attempts=2)
register("fixity_tick", preservation.fixity_tick, attempts=1)
