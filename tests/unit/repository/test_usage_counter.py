"""COUNTER counting rules on a fixture log: robots, double clicks, sessions, versions vs concept."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

from depot.repository.usage.counter import (
    DOWNLOAD,
    VIEW,
    Event,
    count,
    filter_double_clicks,
    is_counted_agent,
    session_id,
    stats,
    tally,
)

LOG = Path(__file__).resolve().parents[2] / "fixtures" / "usage" / "counter-log.jsonl"
SALT = b"test-salt"
T0 = datetime(2026, 3, 2, 10, 1, 0, tzinfo=UTC)


def load(path: Path) -> list[Event]:
    events = []
    for line in path.read_text().splitlines():
        row = json.loads(line)
        at = datetime.fromisoformat(row["at"])
        events.append(Event(at=at, kind=row["kind"], record_id=row["record"], concept_id=row["concept"],
                            session=session_id(SALT, row["ip"], row["user_agent"], at), item=row["item"],
                            user_agent=row["user_agent"]))
    return events


def views(*seconds: int) -> list[Event]:
    return [Event(at=T0 + timedelta(seconds=s), kind=VIEW, record_id=1, concept_id=1, session="s", item="1")
            for s in seconds]


def test_fixture_log_counts_per_version_and_concept() -> None:
    per_version, total = count(load(LOG))
    v11, v10 = per_version[11], per_version[10]
    # v11: A's 10 s double click is one view, its views 40 s apart are two, B adds one; robots add none.
    assert (v11.views, v11.unique_views, v11.downloads, v11.unique_downloads) == (4, 2, 3, 2)
    # v10: A an hour later (a new session) and C's 20 s chain of three views (one).
    assert (v10.views, v10.unique_views, v10.downloads, v10.unique_downloads) == (2, 2, 0, 0)
    # The concept sums totals but counts each session once across versions.
    assert (total.views, total.unique_views, total.downloads, total.unique_downloads) == (6, 4, 3, 2)


def test_stats_shape_of_one_version() -> None:
    assert stats(load(LOG), 10) == {
        "downloads": 3, "unique_downloads": 2, "views": 6, "unique_views": 4,
        "version_downloads": 0, "version_unique_downloads": 0, "version_unique_views": 2, "version_views": 2}
    assert stats([], 10)["views"] == 0


def test_cop_double_click_examples() -> None:
    # CoP 1.0.1 §10.2: 10:01:00 + 10:01:29 count once; 10:01:00 + 10:01:35 count twice.
    assert len(filter_double_clicks(views(0, 29))) == 1
    assert len(filter_double_clicks(views(0, 35))) == 2
    assert len(filter_double_clicks(views(0, 10))) == 1
    assert len(filter_double_clicks(views(0, 40))) == 2
    assert len(filter_double_clicks(views(0, 20, 40, 60))) == 1  # each click within 30 s of the previous
    assert len(filter_double_clicks(views(35, 0))) == 2  # order of arrival does not matter


def test_double_click_needs_same_session_item_and_kind() -> None:
    a, b = views(0, 5)
    assert len(filter_double_clicks([a, Event(b.at, VIEW, 1, 1, "other", "1")])) == 2
    assert len(filter_double_clicks([a, Event(b.at, VIEW, 2, 1, "s", "2")])) == 2
    assert len(filter_double_clicks([a, Event(b.at, DOWNLOAD, 1, 1, "s", "1")])) == 2


def test_robots_and_scripts_are_not_counted() -> None:
    for agent in ("Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
                  "python-requests/2.32.3", "curl/8.5.0", ""):
        assert not is_counted_agent(agent), agent
    assert is_counted_agent("Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0")
    assert is_counted_agent(None)  # screened before storage


def test_session_is_ip_agent_and_hour_hashed() -> None:
    ua = "Mozilla/5.0 Firefox/128.0"
    first = session_id(SALT, "192.0.2.1", ua, T0)
    assert first == session_id(SALT, "192.0.2.1", ua, T0 + timedelta(minutes=58))
    assert first != session_id(SALT, "192.0.2.1", ua, T0 + timedelta(hours=1))
    assert first != session_id(SALT, "192.0.2.2", ua, T0)
    assert first != session_id(SALT, "192.0.2.1", ua + " x", T0)
    assert first != session_id(b"other salt", "192.0.2.1", ua, T0)
    assert len(first) == 32


def test_same_file_name_in_two_versions_is_two_items() -> None:
    a = Event(T0, DOWNLOAD, 1, 1, "s", "sheet.jpg")
    b = Event(T0 + timedelta(seconds=5), DOWNLOAD, 2, 1, "s", "sheet.jpg")
    per_version, total = count([a, b])
    assert (per_version[1].downloads, per_version[2].downloads, total.downloads, total.unique_downloads) == (1, 1, 2, 1)


def test_tally_folds_events_in_one_by_one_as_the_batch_counts() -> None:
    events = sorted(load(LOG), key=lambda e: e.at)
    for split in range(len(events) + 1):
        running = tally(events[:split])
        for event in events[split:]:
            assert running.in_order(event)
            running.add(event)
        assert running.stats(11) == stats(events, 11) and running.stats(10) == stats(events, 10)
    assert not tally(events).in_order(events[0])
