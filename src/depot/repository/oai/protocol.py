"""OAI-PMH 2.0 requests (spec §3-§4): which arguments each verb takes, date granularity, error codes (pure)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from depot.repository.services.ids import parse_id

PREFIXES = ("oai_dc", "oai_datacite", "datacite", "marc21", "dcat")  # resources/oai.py FORMATS
GRANULARITY = "YYYY-MM-DDThh:mm:ssZ"

# verb -> (required, optional, exclusive) arguments (§4).
VERBS: dict[str, tuple[frozenset[str], frozenset[str], str | None]] = {
    "Identify": (frozenset(), frozenset(), None),
    "ListMetadataFormats": (frozenset(), frozenset({"identifier"}), None),
    "ListSets": (frozenset(), frozenset(), "resumptionToken"),
    "ListIdentifiers": (frozenset({"metadataPrefix"}), frozenset({"from", "until", "set"}), "resumptionToken"),
    "ListRecords": (frozenset({"metadataPrefix"}), frozenset({"from", "until", "set"}), "resumptionToken"),
    "GetRecord": (frozenset({"identifier", "metadataPrefix"}), frozenset(), None),
}
_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_SECOND = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$")


class OAIError(Exception):
    """One of the eight protocol errors (§3.6); answered as ``<error code=...>`` with HTTP 200."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True)
class Request:
    verb: str
    args: dict[str, str]


def parse(pairs: list[tuple[str, str]]) -> Request:
    """Check the verb and its arguments: badVerb, or badArgument for missing, illegal or repeated ones."""
    verbs = [v for k, v in pairs if k == "verb"]
    if len(verbs) != 1 or verbs[0] not in VERBS:
        raise OAIError("badVerb", "Illegal OAI verb" if verbs else "No OAI verb given")
    verb = verbs[0]
    required, optional, exclusive = VERBS[verb]
    args: dict[str, str] = {}
    for key, value in pairs:
        if key == "verb":
            continue
        if key in args:
            raise OAIError("badArgument", f"Repeated argument: {key}")
        if key not in required | optional and key != exclusive:
            raise OAIError("badArgument", f"Illegal argument for {verb}: {key}")
        if not value:
            raise OAIError("badArgument", f"Empty argument: {key}")
        args[key] = value
    if exclusive and exclusive in args:
        if len(args) > 1:
            raise OAIError("badArgument", f"{exclusive} is an exclusive argument")
        return Request(verb, args)
    missing = sorted(required - args.keys())
    if missing:
        raise OAIError("badArgument", f"Missing required argument(s): {', '.join(missing)}")
    return Request(verb, args)


def parse_date(value: str, *, end: bool) -> tuple[datetime, str]:
    """(bound, granularity) of a ``from``/``until`` value; ``end`` makes the bound exclusive (the next
    second or day) so that ``until`` includes the whole second or day it names."""
    if _DAY.match(value):
        fmt, step, granularity = "%Y-%m-%d", timedelta(days=1), "day"
    elif _SECOND.match(value):
        fmt, step, granularity = "%Y-%m-%dT%H:%M:%SZ", timedelta(seconds=1), "second"
    else:
        raise OAIError("badArgument", f"Invalid date: {value!r} (use YYYY-MM-DD or {GRANULARITY})")
    try:
        moment = datetime.strptime(value, fmt).replace(tzinfo=UTC)
    except ValueError as exc:
        raise OAIError("badArgument", f"Invalid date: {value!r}") from exc
    return (moment + step if end else moment), granularity


@dataclass(frozen=True)
class Window:
    """A selective harvest: ``lower <= modified < upper`` as stored timestamp text, and the set."""

    lower: str | None
    upper: str | None
    set_spec: str | None


def stored(moment: datetime) -> str:
    """A bound comparable, as text, with the stored ``2024-03-01T10:00:00.123456+00:00`` timestamps."""
    return moment.strftime("%Y-%m-%dT%H:%M:%S")


def window(args: dict[str, str]) -> Window:
    lower = upper = None
    grains = set()
    if "from" in args:
        start, grain = parse_date(args["from"], end=False)
        lower = stored(start)
        grains.add(grain)
    if "until" in args:
        stop, grain = parse_date(args["until"], end=True)
        upper = stored(stop)
        grains.add(grain)
    if len(grains) > 1:
        raise OAIError("badArgument", "from and until must have the same granularity")
    if lower is not None and upper is not None and lower >= upper:
        raise OAIError("badArgument", "from must not be later than until")
    return Window(lower, upper, args.get("set"))


def datestamp(modified: str) -> str:
    """A stored timestamp at the declared granularity: ``2024-03-01T10:00:00Z``."""
    return modified[:19] + "Z"


def check_prefix(prefix: str) -> None:
    if prefix not in PREFIXES:
        raise OAIError("cannotDisseminateFormat", f"The metadata format {prefix!r} is not supported")


def local_id(identifier: str, host: str) -> int:
    """The record id of ``oai:<host>:<recid>``; idDoesNotExist for anything else."""
    scheme, _, rest = identifier.partition(":")
    repo, _, local = rest.rpartition(":")
    record_id = parse_id(local)
    if scheme != "oai" or repo != host or record_id is None:
        raise OAIError("idDoesNotExist", "No matching identifier")
    return record_id
