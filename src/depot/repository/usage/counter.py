"""COUNTER Code of Practice for Research Data, as pure functions: usage events in, record counts out.

Views are landing-page requests (a subset of COUNTER *investigations*), downloads are file-content
requests (COUNTER *requests*). Rules applied (CoP 1.0.1 §10, standards.md §7):

* robots and machines are not counted (the COUNTER/Make Data Count lists, via ``counter-robots``), as
  on Zenodo, which drops machine traffic rather than reporting it as Access_Method=Machine;
* double clicks: accesses to the same item in the same user-session count once while each follows the
  previous one within 30 seconds (a sliding window, not invenio-stats' fixed buckets);
* a user-session is IP + User-Agent + the hour of access, kept only as a salted hash; unique counts are
  distinct sessions per record (per version) or per concept (all versions).
"""

from __future__ import annotations

import hashlib
import hmac
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from counter_robots import is_robot_or_machine

VIEW = "view"
DOWNLOAD = "download"
DOUBLE_CLICK = timedelta(seconds=30)
COUNTED_STATUSES = frozenset({200, 304})


@dataclass(frozen=True)
class Event:
    """One access. ``item`` is what a double click repeats: the record for a view, the file for a download."""

    at: datetime
    kind: str
    record_id: int
    concept_id: int
    session: str
    item: str
    user_agent: str | None = None  # None when the event was already screened for robots before it was stored


@dataclass
class Counts:
    views: int = 0
    unique_views: int = 0
    downloads: int = 0
    unique_downloads: int = 0


def is_counted_agent(user_agent: str | None) -> bool:
    """False for robots, crawlers and scripts (an empty User-Agent is a robot too)."""
    return user_agent is None or not is_robot_or_machine(user_agent)


def session_id(salt: bytes, ip: str, user_agent: str, at: datetime) -> str:
    """COUNTER's user-session from IP + User-Agent within one clock hour; a keyed hash, never the IP itself."""
    hour = at.strftime("%Y-%m-%dT%H")
    message = f"{ip}\n{user_agent}\n{hour}".encode()
    return hmac.new(salt, message, hashlib.sha256).hexdigest()[:32]


def _click_key(event: Event) -> tuple[str, str, int, str]:
    return (event.kind, event.session, event.record_id, event.item)


def filter_double_clicks(events: Iterable[Event], window: timedelta = DOUBLE_CLICK) -> list[Event]:
    """Keep the last access of each run of accesses by one session to one item spaced at most ``window`` apart."""
    runs: dict[tuple[str, str, int, str], list[Event]] = defaultdict(list)
    for event in sorted(events, key=lambda e: e.at):
        runs[_click_key(event)].append(event)
    kept: list[Event] = []
    for run in runs.values():
        for current, following in zip(run, [*run[1:], None], strict=True):
            if following is None or following.at - current.at > window:
                kept.append(current)
    kept.sort(key=lambda e: e.at)
    return kept


class Tally:
    """Counts that grow event by event, in time order, so a cache can fold in only the newest events.

    A run of double clicks counts once whichever click is kept, so counting runs as they start gives the
    same totals as :func:`filter_double_clicks`; a unique count is a set of sessions either way.
    """

    def __init__(self, window: timedelta = DOUBLE_CLICK) -> None:
        self.window = window
        self.per_version: dict[int, Counts] = defaultdict(Counts)
        self.total = Counts()
        self.last_click: dict[tuple[str, str, int, str], datetime] = {}
        self.sessions: dict[tuple[str, int | None], set[str]] = defaultdict(set)
        self.latest: datetime | None = None

    def in_order(self, event: Event) -> bool:
        """False if ``event`` is older than one already added: then only a recount from scratch is exact."""
        return self.latest is None or event.at >= self.latest

    def add(self, event: Event) -> None:
        if event.kind not in (VIEW, DOWNLOAD) or not is_counted_agent(event.user_agent):
            return
        self.latest = event.at if self.latest is None else max(self.latest, event.at)
        key = _click_key(event)
        previous = self.last_click.get(key)
        self.last_click[key] = event.at
        if previous is None or event.at - previous > self.window:
            version = self.per_version[event.record_id]
            if event.kind == VIEW:
                version.views += 1
                self.total.views += 1
            else:
                version.downloads += 1
                self.total.downloads += 1
        for scope in (event.record_id, None):
            seen = self.sessions[(event.kind, scope)]
            if event.session not in seen:
                seen.add(event.session)
                target = self.total if scope is None else self.per_version[scope]
                if event.kind == VIEW:
                    target.unique_views += 1
                else:
                    target.unique_downloads += 1

    def stats(self, record_id: int) -> dict[str, int]:
        return stats_of(dict(self.per_version), self.total, record_id)


def tally(events: Iterable[Event], window: timedelta = DOUBLE_CLICK) -> Tally:
    counted = Tally(window)
    for event in sorted(events, key=lambda e: e.at):
        counted.add(event)
    return counted


def count(events: Iterable[Event]) -> tuple[dict[int, Counts], Counts]:
    """Counts per record (version) and for all of them together (the concept)."""
    counted = tally(events)
    return dict(counted.per_version), counted.total


def stats(events: Iterable[Event], record_id: int) -> dict[str, int]:
    """The records API ``stats`` object of one version, from the events of its whole concept."""
    return stats_of(*count(events), record_id)


def stats_of(per_version: dict[int, Counts], total: Counts, record_id: int) -> dict[str, int]:
    version = per_version.get(record_id, Counts())
    return {
        "downloads": total.downloads,
        "unique_downloads": total.unique_downloads,
        "views": total.views,
        "unique_views": total.unique_views,
        "version_downloads": version.downloads,
        "version_unique_downloads": version.unique_downloads,
        "version_unique_views": version.unique_views,
        "version_views": version.views,
    }
