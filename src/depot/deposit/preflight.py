"""Look before the leap: one request checks the target, the token and its rights before any work.

``GET {api}/deposit/depositions?size=1`` is cheap on Zenodo and on Depot, needs a valid token, and
answers a JSON list only from a Zenodo-compatible deposit API. Before it, a wrong URL cost one record
590 s of retries, and a refused token was found only after the source was read and the ledger written.
``judge`` (pure) turns the answer into a verdict and an actionable message; ``preflight`` sends it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import aiohttp
import click
import orjson

from depot.deposit.client import USER_AGENT
from depot.deposit.errors import ConfigError, HTTPStatusError, TransportError
from depot.deposit.ledger.remembered import Sample
from depot.deposit.links import host_port, server_path
from depot.deposit.targets import PUBLIC, Target, token_help

ATTEMPTS = 3  # a transient answer (429, 5xx, a slow read) is asked again before the run goes on anyway


@dataclass(frozen=True)
class Verdict:
    ok: bool
    transient: bool = False  # worth asking again; after the last try the run goes on with a warning
    message: str = ""
    no_api: bool = False  # no such API there (404/405, or not its answer): --api auto tries the other one


class NoApi(ConfigError):
    """The target does not serve the API asked about (see Verdict.no_api)."""


def suggest_api(api_url: str) -> str:
    """The API URL the user probably meant: up to and including ``/api``, or with ``/api`` added."""
    parts = urlsplit(api_url)
    path = parts.path.rstrip("/")
    head, found, _ = path.partition("/api/")
    path = head + "/api" if found else (path if path.endswith("/api") else path + "/api")
    return f"{parts.scheme}://{parts.netloc}{path}"


def judge(status: int, content_type: str, body: bytes, *, api_url: str, name: str, token_source: str) -> Verdict:
    """What one answer to ``GET {api_url}/deposit/depositions?size=1`` says about the target and the token."""
    where = f"{api_url}/deposit/depositions"
    if status in (401, 403):
        return Verdict(False, message=f"{api_url} refused the token (HTTP {status}{_said(body)}). "
                                      + token_help(name, token_source))
    if status == 429 or status >= 500 or status == 408:
        return Verdict(False, transient=True, message=f"{where} answered HTTP {status}{_said(body)}")
    better = suggest_api(api_url)
    hint = f"; did you mean --target {better} ?" if better != api_url.rstrip("/") else ""
    if status == 404 and not hint and _said(body):
        # A Zenodo-style JSON 404 from a URL ending in /api: the repository itself is out (as Zenodo answered
        # 404 to everything in its 2019 database incident). The run's breaker waits such an outage out.
        return Verdict(True, message=f"{where} answered HTTP 404{_said(body)}, as a repository in an outage "
                                     "does; going on, the run waits for it to end", no_api=True)
    if status == 404 or status == 405:
        return Verdict(False, message=f"{where} answered HTTP {status}: no Zenodo deposit API there{hint}",
                       no_api=True)
    if status >= 400:
        return Verdict(False, message=f"{where} answered HTTP {status}{_said(body)}")
    try:
        parsed: Any = orjson.loads(body) if body else None
    except orjson.JSONDecodeError:
        parsed = None
    if not isinstance(parsed, list) or not all(isinstance(d, dict) and "id" in d for d in parsed):
        kind = "a JSON document" if parsed is not None else (f"a {content_type or 'non-JSON'} page")
        return Verdict(False, message=f"{where} answered HTTP {status} with {kind}, not a list of depositions: "
                                      f"not a Zenodo-compatible deposit API{hint}", no_api=True)
    return Verdict(True)


def judge_rdm(status: int, content_type: str, body: bytes, *, api_url: str, name: str,
              token_source: str) -> Verdict:
    """What one answer to ``GET {api_url}/user/records?size=1`` says (``--api rdm``): the InvenioRDM
    records API answers the caller's records as ``{"hits": {"hits": [...]}}``."""
    where = f"{api_url}/user/records"
    if status in (401, 403):
        return Verdict(False, message=f"{api_url} refused the token (HTTP {status}{_said(body)}). "
                                      + token_help(name, token_source))
    if status == 429 or status >= 500 or status == 408:
        return Verdict(False, transient=True, message=f"{where} answered HTTP {status}{_said(body)}")
    better = suggest_api(api_url)
    hint = f"; did you mean --target {better} ?" if better != api_url.rstrip("/") else ""
    if status == 404 and not hint and _said(body):  # as judge(): a repository in an outage answers so too
        return Verdict(True, message=f"{where} answered HTTP 404{_said(body)}, as a repository in an outage "
                                     "does; going on, the run waits for it to end", no_api=True)
    if status >= 400:
        return Verdict(False, message=f"{where} answered HTTP {status}{_said(body)}: no InvenioRDM records API "
                                      f"there{hint}", no_api=status in (404, 405))
    try:
        parsed: Any = orjson.loads(body) if body else None
    except orjson.JSONDecodeError:
        parsed = None
    hits = parsed.get("hits") if isinstance(parsed, dict) else None
    if not isinstance(hits, dict) or not isinstance(hits.get("hits"), list):
        return Verdict(False, message=f"{where} answered HTTP {status} without a list of records: not an "
                                      f"InvenioRDM records API{hint}", no_api=True)
    return Verdict(True)


def _said(body: bytes) -> str:
    try:
        message = orjson.loads(body).get("message") if body[:1] == b"{" else None
    except (orjson.JSONDecodeError, AttributeError):
        message = None
    return f": {str(message).rstrip('.')[:200]}" if message else ""


async def preflight(target: Target, *, connect_timeout: float = 15.0, timeout: float = 60.0) -> str:
    """Raise a ConfigError (exit USAGE) unless the target serves its API (``target.api``) and accepts the
    token; returns the API to use. ``auto``: the legacy deposit API for Zenodo, its sandbox and the
    embedded repository (fewer requests a record); for any other URL the legacy API if it is there, else
    the InvenioRDM records API."""
    times = {"connect_timeout": connect_timeout, "timeout": timeout}
    if target.api == "rdm":
        _warn(await _preflight(target, "/user/records", judge_rdm, **times))
        return "rdm"
    detect = target.api != "legacy" and target.name not in (*PUBLIC, "local")
    try:
        found = await _preflight(target, "/deposit/depositions", judge, **times)
    except NoApi:
        if detect and await _has_rdm(target, times):
            return _detected(target)
        raise
    # A JSON 404 is a repository in an outage, or an InvenioRDM without the legacy API: ask the other one.
    if detect and found is not None and found.no_api and await _has_rdm(target, times):
        return _detected(target)
    _warn(found)
    return "legacy"


async def _has_rdm(target: Target, times: dict[str, float]) -> bool:
    try:
        found = await _preflight(target, "/user/records", judge_rdm, **times)
    except NoApi:
        return False
    return found is not None and not found.no_api


def _detected(target: Target) -> str:
    click.echo(f"depot: {target.api_url} has no legacy deposit API but the InvenioRDM records API: using "
               "--api rdm", err=True)
    return "rdm"


def _warn(verdict: Verdict | None) -> None:
    if verdict is not None and verdict.message:
        click.echo(f"depot: warning: {verdict.message}", err=True)


async def _preflight(target: Target, path: str, judging: Callable[..., Verdict], *, connect_timeout: float,
                     timeout: float) -> Verdict | None:
    """The answer's verdict if it is ok; None if the target did not answer clearly (after a warning)."""
    url = f"{target.api_url}{path}"
    headers = {"Authorization": f"Bearer {target.token}", "User-Agent": USER_AGENT, "Accept": "application/json"}
    if not target.api_url.startswith(("http://", "https://")) or not urlsplit(target.api_url).hostname:
        raise ConfigError(f"--target {target.name}: not a URL (use local, zenodo, sandbox or https://HOST/api)")
    last = ""
    client_timeout = aiohttp.ClientTimeout(total=timeout, connect=connect_timeout)
    async with aiohttp.ClientSession(headers=headers, timeout=client_timeout) as session:
        for attempt in range(ATTEMPTS):
            if attempt:
                await asyncio.sleep(2.0 * attempt)
            try:
                async with session.get(url, params={"size": "1"}) as resp:
                    verdict = judging(resp.status, resp.content_type, await resp.read(), api_url=target.api_url,
                                      name=target.name, token_source=target.token_source)
            except aiohttp.ClientConnectorDNSError as exc:
                raise ConfigError(f"cannot find the host {urlsplit(url).hostname!r} of --target {target.api_url} "
                                  "(check its spelling, and that this machine is online)") from exc
            except aiohttp.ClientConnectorError as exc:
                reason = ("connection refused" if isinstance(exc.os_error, ConnectionRefusedError)
                          else (exc.os_error.strerror if exc.os_error and exc.os_error.strerror else str(exc)))
                raise ConfigError(f"cannot connect to {host_port(url)} ({reason}): is the repository at "
                                  f"{target.api_url} running? If it answers elsewhere, give --target with its "
                                  "address") from exc
            except aiohttp.ConnectionTimeoutError:
                last = f"no connection to {host_port(url)} within {connect_timeout:.0f} s"
                if attempt == ATTEMPTS - 1:
                    raise ConfigError(f"{last}: is the host of {target.api_url} right, and reachable from "
                                      "here? If the repository answers elsewhere, give --target with its "
                                      "address") from None
                continue
            except (TimeoutError, aiohttp.ClientError) as exc:
                verdict = Verdict(False, transient=True, message=f"{url}: {type(exc).__name__}: {exc}")
            if verdict.ok:
                return verdict
            if not verdict.transient:
                raise (NoApi if verdict.no_api else ConfigError)(verdict.message)
            last = verdict.message
    click.echo(f"depot: warning: the target did not answer clearly ({last}); going on, the run retries", err=True)
    return None


def holds(found: Any, sample: Sample) -> bool:
    """Is ``found`` (a deposition read back by id) the ledger's deposit? Ids and DOIs repeat across Depot
    repositories fed the same data, so the bucket (a UUID) must agree too where both sides have one."""
    if not isinstance(found, dict):
        return False
    if sample.doi is not None:
        same = found.get("doi") == sample.doi
    else:
        same = sample.title is not None and (found.get("metadata") or {}).get("title") == sample.title
    bucket = server_path(str((found.get("links") or {}).get("bucket") or "")) or None
    return same and (sample.bucket is None or bucket is None or bucket == sample.bucket)


async def confirm_same_server(client: Any, sample: Sample | None, *, remembered: str, given: str) -> None:
    """A --target other than the ledger's is taken only if it holds the ledger's deposits (a server that
    moved, or the same data served on another port): one of them is read back and compared."""
    if sample is None:
        return  # nothing deposited anywhere yet: nothing to mix up
    found: dict[str, Any] | None
    try:
        found = await client.get(sample.deposition_id)
    except (HTTPStatusError, TransportError):
        found = None
    if not holds(found, sample):
        raise ConfigError(f"this ledger deposits into {remembered}, and {given} does not hold its deposits "
                          f"(deposition {sample.deposition_id} of {sample.key} is missing there, or is another "
                          "one): leave out --target to use the ledger's, or use another --ledger for another "
                          "repository")


def describe(name: str) -> str:
    return f"{name} ({PUBLIC[name]})" if name in PUBLIC else name
