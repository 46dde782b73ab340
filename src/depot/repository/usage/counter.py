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


def filter_double_clicks(events: Iterable[Event], window: timedelta = DOUBLE_CLICK) -> list[Event]:
    """Keep the last access of each run of accesses by one session to one item spaced at most ``window`` apart."""
    runs: dict[tuple[str, str, str], list[Event]] = defaultdict(list)
    for event in sorted(events, key=lambda e: e.at):
        runs[(event.kind, event.session, event.item)].append(event)
    kept: list[Event] = []
    for run in runs.values():
        for current, following in zip(run, [*run[1:], None], strict=True):
            if following is None or following.at - current.at > window:
                kept.append(current)
    kept.sort(key=lambda e: e.at)
    return kept


def count(events: Iterable[Event]) -> tuple[dict[int, Counts], Counts]:
    """Counts per record (version) and for all of them together (the concept)."""
    accepted = filter_double_clicks(e for e in events if is_counted_agent(e.user_agent))
    per_version: dict[int, Counts] = defaultdict(Counts)
    total = Counts()
    sessions: dict[tuple[str, int | None], set[str]] = defaultdict(set)
    for event in accepted:
        version = per_version[event.record_id]
        if event.kind == VIEW:
            version.views += 1
            total.views += 1
        elif event.kind == DOWNLOAD:
            version.downloads += 1
            total.downloads += 1
        else:
            continue
        sessions[(event.kind, event.record_id)].add(event.session)
        sessions[(event.kind, None)].add(event.session)
    for (kind, record_id), seen in sessions.items():
        target = total if record_id is None else per_version[record_id]
        if kind == VIEW:
            target.unique_views = len(seen)
        else:
            target.unique_downloads = len(seen)
    return dict(per_version), total


def stats(events: Iterable[Event], record_id: int) -> dict[str, int]:
    """The records API ``stats`` object of one version, from the events of its whole concept."""
    per_version, total = count(events)
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
