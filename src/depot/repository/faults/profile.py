"""Fault profiles (pure): what to inject, per endpoint, read from a TOML file.

A profile has a seed, a ``scale`` that multiplies every probability, per-endpoint rules and time
windows (outages and 429 storms, counted from the server's start). Endpoints: ``create``, ``update``,
``upload`` (bucket PUT), ``publish``, ``edit``, ``discard``, ``newversion``, ``get``, ``list``,
``files`` (other file endpoints), ``records`` (the records API), ``any`` (matches all).

    seed = 2019
    scale = 1.0
    [rules.publish]
    before = { 500 = 0.01, 504 = 0.01 }   # answer with this status without doing anything
    after = { 504 = 0.02 }                # do it (commit), then answer with this status instead
    drop_after = 0.01                     # do it, then drop the connection mid-answer
    [rules.upload]
    reset_body = 0.01                     # drop the connection while the body is being read
    latency = { median_ms = 40, sigma = 0.6, max_ms = 2000 }   # log-normal
    [[outages]]
    start = 60.0                          # seconds after start-up
    duration = 30.0
    status = 404                          # every request gets it (the 2019 database incident)
    after = "create"                      # optional: count start from the first request to this endpoint
    [[storms]]
    start = 10.0
    duration = 5.0
    probability = 0.5                     # share of requests answered 429
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from importlib.resources import files
from pathlib import Path
from typing import Any

ENDPOINTS = ("create", "update", "upload", "publish", "edit", "discard", "newversion", "get", "list", "files",
             "records", "delete", "other")
_ROUTES: tuple[tuple[str, re.Pattern[str], str], ...] = (
    ("POST", re.compile(r"^/api/deposit/depositions$"), "create"),
    ("GET", re.compile(r"^/api/deposit/depositions$"), "list"),
    ("GET", re.compile(r"^/api/deposit/depositions/\d+$"), "get"),
    ("PUT", re.compile(r"^/api/deposit/depositions/\d+$"), "update"),
    ("DELETE", re.compile(r"^/api/deposit/depositions/\d+$"), "delete"),
    ("POST", re.compile(r"^/api/deposit/depositions/\d+/actions/publish$"), "publish"),
    ("POST", re.compile(r"^/api/deposit/depositions/\d+/actions/edit$"), "edit"),
    ("POST", re.compile(r"^/api/deposit/depositions/\d+/actions/discard$"), "discard"),
    ("POST", re.compile(r"^/api/deposit/depositions/\d+/actions/newversion$"), "newversion"),
    ("PUT", re.compile(r"^/api/files/[^/]+/.+$"), "upload"),
    ("*", re.compile(r"^/api/(files/|deposit/depositions/\d+/files)"), "files"),
    # The InvenioRDM drafts API: the same steps, so one fault profile covers a depositor on either API.
    ("POST", re.compile(r"^/api/records$"), "create"),
    ("GET", re.compile(r"^/api/user/records$"), "list"),
    ("GET", re.compile(r"^/api/records/\d+/draft$"), "get"),
    ("PUT", re.compile(r"^/api/records/\d+/draft$"), "update"),
    ("DELETE", re.compile(r"^/api/records/\d+/draft$"), "discard"),
    ("POST", re.compile(r"^/api/records/\d+/draft$"), "edit"),
    ("POST", re.compile(r"^/api/records/\d+/draft/actions/publish$"), "publish"),
    ("POST", re.compile(r"^/api/records/\d+/versions$"), "newversion"),
    ("PUT", re.compile(r"^/api/records/\d+/draft/files/.+/content$"), "upload"),
    ("*", re.compile(r"^/api/records/\d+/draft/(files|pids)"), "files"),
    ("*", re.compile(r"^/api/records"), "records"),
)


class FaultProfileError(ValueError):
    """Raised when a fault profile cannot be read or is malformed; the message names the file and key."""


def endpoint_of(method: str, path: str) -> str:
    for want, pattern, name in _ROUTES:
        if (want == "*" or want == method) and pattern.match(path):
            return name
    return "other"


@dataclass(frozen=True)
class Latency:
    median_ms: float = 0.0
    sigma: float = 0.0
    max_ms: float = 30_000.0


@dataclass(frozen=True)
class Rule:
    before: dict[int, float] = field(default_factory=dict)
    after: dict[int, float] = field(default_factory=dict)
    drop_after: float = 0.0
    reset_body: float = 0.0
    latency: Latency | None = None


@dataclass(frozen=True)
class Window:
    start: float
    duration: float
    status: int = 503
    probability: float = 1.0
    after: str | None = None  # start counts from the first request to this endpoint, not the server's start

    def active(self, elapsed: float) -> bool:
        return self.start <= elapsed < self.start + self.duration


@dataclass(frozen=True)
class FaultProfile:
    name: str
    seed: int = 0
    scale: float = 1.0
    rules: dict[str, Rule] = field(default_factory=dict)
    outages: tuple[Window, ...] = ()
    storms: tuple[Window, ...] = ()

    def rule_for(self, endpoint: str) -> Rule | None:
        return self.rules.get(endpoint) or self.rules.get("any")


def _probabilities(raw: Any, where: str) -> dict[int, float]:
    if not isinstance(raw, dict):
        raise FaultProfileError(f"{where}: expected a table of status = probability")
    out: dict[int, float] = {}
    for status, p in raw.items():
        if not str(status).isdigit() or not 100 <= int(status) <= 599:
            raise FaultProfileError(f"{where}: {status!r} is not an HTTP status")
        out[int(status)] = _probability(p, f"{where}.{status}")
    return out


def _probability(raw: Any, where: str) -> float:
    if not isinstance(raw, int | float) or not 0 <= raw <= 1:
        raise FaultProfileError(f"{where}: a probability must be a number between 0 and 1, not {raw!r}")
    return float(raw)


def parse(data: dict[str, Any], name: str) -> FaultProfile:
    """Build a profile from TOML data; every mistake is a FaultProfileError naming the key."""
    rules: dict[str, Rule] = {}
    for endpoint, raw in (data.get("rules") or {}).items():
        where = f"{name}: rules.{endpoint}"
        if endpoint not in ENDPOINTS and endpoint != "any":
            raise FaultProfileError(f"{where}: unknown endpoint; use one of {', '.join(ENDPOINTS)} or any")
        unknown = set(raw) - {"before", "after", "drop_after", "reset_body", "latency"}
        if unknown:
            raise FaultProfileError(f"{where}: unknown key(s) {', '.join(sorted(unknown))}")
        lat = raw.get("latency")
        rules[endpoint] = Rule(
            before=_probabilities(raw.get("before", {}), f"{where}.before"),
            after=_probabilities(raw.get("after", {}), f"{where}.after"),
            drop_after=_probability(raw.get("drop_after", 0.0), f"{where}.drop_after"),
            reset_body=_probability(raw.get("reset_body", 0.0), f"{where}.reset_body"),
            latency=Latency(float(lat.get("median_ms", 0)), float(lat.get("sigma", 0)),
                            float(lat.get("max_ms", 30_000))) if lat else None,
        )
    windows = []
    for kind in ("outages", "storms"):
        items = []
        for i, raw in enumerate(data.get(kind) or []):
            after = raw.get("after") if isinstance(raw, dict) else None
            if after is not None and after not in ENDPOINTS:
                raise FaultProfileError(f"{name}: {kind}[{i}].after: unknown endpoint {after!r}; use one of "
                                        f"{', '.join(ENDPOINTS)}")
            try:
                items.append(Window(float(raw["start"]), float(raw["duration"]), int(raw.get("status", 503)),
                                    _probability(raw.get("probability", 1.0), f"{name}: {kind}[{i}].probability"),
                                    after))
            except (KeyError, TypeError, ValueError) as exc:
                raise FaultProfileError(f"{name}: {kind}[{i}] needs numeric start and duration ({exc})") from exc
        windows.append(tuple(items))
    scale = data.get("scale", 1.0)
    if not isinstance(scale, int | float) or scale < 0:
        raise FaultProfileError(f"{name}: scale must be a non-negative number")
    return FaultProfile(name, int(data.get("seed", 0)), float(scale), rules, windows[0], windows[1])


def load(name_or_path: str) -> FaultProfile:
    """A shipped profile by name (``zenodo-2019``) or a TOML file by path."""
    path = Path(name_or_path)
    if path.suffix == ".toml" or path.exists():
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise FaultProfileError(f"cannot read fault profile {path}: {exc.strerror}") from exc
        label = str(path)
    else:
        resource = files("depot.repository.faults") / "profiles" / f"{name_or_path}.toml"
        if not resource.is_file():
            raise FaultProfileError(f"no fault profile named {name_or_path!r} (shipped: zenodo-2019, none)")
        text, label = resource.read_text(encoding="utf-8"), name_or_path
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise FaultProfileError(f"{label}: not valid TOML: {exc}") from exc
    return parse(data, label)
