"""Share of the rate budget a run uses, against `depot serve` at 100/min plus 5,000/h (issue 16, goal ≥ 95 %).

Windows are scaled down 60×: the server's "minute" lasts 1 s and its "hour" 60 s
(user_limit_minute_seconds / user_limit_hour_seconds), so the hour binds as on Zenodo (100 a minute
would be 6,000 an hour). Workers send cheap requests (a GET of a deposition that does not exist: the
server counts every request, as Zenodo does) through the run's rate limiter, each as fast as it lets
them. Two targets:
- known: the limits are assumed from the start (a Zenodo target);
- learnt: a plain API URL; the minute comes from the first answer's headers, the hour only from its
  first 429 (whose headers are the minute's). Measured over the second hour window, after the learning.
Share = requests the server accepted within one hour window / 5,000 (--quick: over half an hour, / 2,500).
Margin: 0.05 s (1 s unscaled is 1/60 of a minute; scaled, 50 ms still covers loopback delays).
"""

from __future__ import annotations

import asyncio
import time

from bench.harness import serve, sized, smoke, table
from depot.deposit.client import RepositoryClient
from depot.deposit.errors import HTTPStatusError
from depot.deposit.ratelimit import RateLimiter

PER_MINUTE, PER_HOUR = 100, 5000
MINUTE, HOUR = 1, 60  # seconds, scaled 60×
WORKERS = 8


async def drive(api: str, token: str, limiter: RateLimiter, until: float) -> tuple[list[float], int]:
    """Send until ``until`` (monotonic); the times of the accepted requests and the count of 429s."""
    accepted: list[float] = []
    refused = 0
    async with RepositoryClient(api, token, limiter=limiter, connections=WORKERS) as client:
        async def worker() -> None:
            nonlocal refused
            while time.monotonic() < until:
                try:
                    await client.request("get", "GET", f"{api}/deposit/depositions/0")
                    accepted.append(time.monotonic())
                except HTTPStatusError as exc:
                    if exc.status == 429:
                        refused += 1
                    else:
                        accepted.append(time.monotonic())  # the 404 we asked for: counted by the server

        await asyncio.gather(*(worker() for _ in range(WORKERS)))
    return accepted, refused


def share(accepted: list[float], start: float, span: float) -> float:
    return sum(1 for t in accepted if start <= t < start + span) / (PER_HOUR * span / HOUR)


def run(known: bool, windows: int, span: float = HOUR) -> list[object]:
    """``windows`` hour windows; the share is measured over ``span`` seconds of the last."""
    env = {"DEPOT_USER_LIMIT_MINUTE_SECONDS": str(MINUTE), "DEPOT_USER_LIMIT_HOUR_SECONDS": str(HOUR)}
    with serve("--rate-limit", f"{PER_MINUTE}/{PER_HOUR}", env=env) as server:
        limiter = RateLimiter(PER_MINUTE if known else None, PER_HOUR if known else None,
                              windows=(float(MINUTE), float(HOUR)), margin=0.05)
        started = time.monotonic()
        accepted, refused = asyncio.run(drive(server.base + "/api", server.token, limiter,
                                              started + (windows - 1) * HOUR + span + 0.5))
    first = accepted[0] if accepted else started
    measured = first + (windows - 1) * HOUR
    if not known and windows > 1:
        # The second window starts when the learnt hour lets requests go again.
        measured = min((t for t in accepted if t >= first + HOUR), default=measured)
    used = share(accepted, measured, span)
    return ["known" if known else "learnt", f"{windows - 1 + span / HOUR:g}", len(accepted), refused,
            f"{used * 100:.1f} %", "yes" if used >= 0.95 else "NO", "; ".join(limiter.learnt) or "-"]


def main(quick: bool = False) -> None:
    quick = quick or smoke()
    rows = [run(True, 1, sized(quick, HOUR, HOUR / 2, HOUR / 20))]
    if not quick:
        rows.append(run(False, 2))
    table(f"Rate budget at {PER_MINUTE}/min + {PER_HOUR}/h, windows scaled 60× (minute {MINUTE} s, hour {HOUR} s), "
          f"{WORKERS} workers; machine shared with other agents",
          ["target", "hours", "accepted", "429s", "share of the hour's budget", "≥ 95 %", "learnt"], rows)


if __name__ == "__main__":
    main()
