"""Where records go: ``zenodo``, ``sandbox``, any API URL, or ``local`` (an embedded Depot repository).

``local`` starts the repository in this process (uvicorn in a background thread, on loopback) over a
data directory, and mints a token for the depositor: the main job runs on a fresh machine with no
account and no network.

The embedded repository keeps one port, chosen on its first start and remembered in its folder
(``embedded-port``), rather than serving in-process without an address: the records' links (in the
report, the demo, the landing pages) stay valid across runs, and ``depot serve --data-dir DIR --port
PORT`` shows them at the same address; the run itself goes over the same HTTP path as for Zenodo.
Resuming never depends on it: the ledger keeps paths, not ports (depot.deposit.links). If the port is
taken (another run on the same folder), a free one is used for this run only.
"""

from __future__ import annotations

import contextlib
import os
import socket
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from depot.deposit.errors import ConfigError
from depot.deposit.links import site_of

if TYPE_CHECKING:
    from depot.repository.jobs import JobQueue

PUBLIC = {
    "zenodo": "https://zenodo.org/api",
    "sandbox": "https://sandbox.zenodo.org/api",
}
# Zenodo's documented limits for authenticated users (developers.zenodo.org rate-limit page).
ZENODO_LIMITS = (100, 5000)


PORT_FILE = "embedded-port"
TOKEN_PAGES = {"zenodo": "https://zenodo.org/account/settings/applications/tokens/new/",
               "sandbox": "https://sandbox.zenodo.org/account/settings/applications/tokens/new/"}


@dataclass(frozen=True)
class Target:
    name: str
    api_url: str
    token: str
    per_minute: int | None  # the rate limit to assume before the first response says otherwise
    per_hour: int | None
    token_source: str = "DEPOT_TOKEN"  # where the token came from, for messages
    repo_dir: Path | None = None  # local: the embedded repository's folder
    api: str = "legacy"  # legacy (the deposit API) or rdm (InvenioRDM records); auto until the preflight


def api_url_of(name: str) -> str:
    """The API URL a target name stands for (local has none of its own: see embedded_repository)."""
    return PUBLIC.get(name, name).rstrip("/")


def same_target(a: str, a_dir: Path | None, b: str, b_dir: Path | None) -> bool:
    """Do two --target values (with their repository folders for local) name the same repository?"""
    if a == "local" or b == "local":
        return a == b and a_dir is not None and b_dir is not None and a_dir.resolve() == b_dir.resolve()
    return api_url_of(a) == api_url_of(b)


def site_url(name: str, repo_dir: Path | None) -> str | None:
    """Where the target's records are shown (``https://zenodo.org``); for local, its remembered address."""
    if name == "local":
        port = remembered_port(repo_dir) if repo_dir else None
        return f"http://127.0.0.1:{port}" if port else None
    return site_of(api_url_of(name))


def remembered_port(data_dir: Path) -> int | None:
    try:
        port = int((data_dir / PORT_FILE).read_text(encoding="utf-8").strip())
    except (OSError, ValueError):
        return None
    return port if 0 < port < 65536 else None


def token_help(name: str, token_source: str | None) -> str:
    """Where a token for this target comes from, and which rights it needs."""
    scopes = "with the scopes deposit:write and deposit:actions"
    if name in TOKEN_PAGES:
        how = f"Create a token at {TOKEN_PAGES[name]} {scopes}"
    else:
        how = ("On a Depot repository, `depot repo create-token EMAIL --data-dir DIR` prints one; on Zenodo, create "
               f"one at {TOKEN_PAGES['zenodo']} {scopes}")
    came = f"The token came from {token_source}. " if token_source else ""
    return f"{came}{how}; give it in DEPOT_TOKEN or in a file named by --token-file."


def read_token(token_file: Path | None) -> str | None:
    """The token from DEPOT_TOKEN, else from a file; never from a flag's value."""
    token = os.environ.get("DEPOT_TOKEN")
    if token:
        return token.strip()
    if token_file is not None:
        try:
            return token_file.read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise ConfigError(f"cannot read the token file {token_file}: {exc.strerror}") from exc
    return None


def known_limits(name: str) -> tuple[int | None, int | None]:
    """The rate limit a target is known to have before any answer says so: Zenodo's for zenodo and sandbox,
    none for the local repository or another server."""
    return ZENODO_LIMITS if name in PUBLIC else (None, None)


@contextlib.contextmanager
def open_target(name: str, *, token_file: Path | None = None, repo_dir: Path = Path("depot-data"),
                per_minute: int | None = None, per_hour: int | None = None, api: str = "legacy") -> Iterator[Target]:
    """Resolve a target name or URL; for ``local``, run the embedded repository while in use."""
    if name == "local":
        with embedded_repository(repo_dir) as (api_url, token):
            # The minted token, not DEPOT_TOKEN: that one is for the user's real repository.
            given = read_token(token_file) if token_file is not None else None
            yield Target("local", api_url, given or token, per_minute, per_hour,
                         token_source=f"--token-file {token_file}" if given else "the embedded repository",
                         repo_dir=repo_dir, api=api)
        return
    api_url = PUBLIC.get(name, name)
    if not api_url.startswith(("http://", "https://")):
        raise ConfigError(f"unknown target {name!r}: use local, zenodo, sandbox or an API URL such as "
                          "https://zenodo.example.org/api")
    found = read_token(token_file)
    if not found:
        raise ConfigError(f"no token for {name}: set DEPOT_TOKEN or pass --token-file FILE. "
                          + token_help(name, None))
    token = found
    known_minute, known_hour = known_limits(name)
    per_minute, per_hour = per_minute or known_minute, per_hour or known_hour
    source = "DEPOT_TOKEN" if os.environ.get("DEPOT_TOKEN") else f"--token-file {token_file}"
    yield Target(name, api_url.rstrip("/"), token, per_minute, per_hour, token_source=source, api=api)


@contextlib.contextmanager
def embedded_repository(data_dir: Path, *, port: int | None = None) -> Iterator[tuple[str, str]]:
    """Serve a Depot repository from ``data_dir`` on loopback; yields (API URL, a fresh token)."""
    import uvicorn

    from depot.repository.app import create_app
    from depot.repository.config import RepositoryConfig

    port = port or _stable_port(data_dir)
    base = f"http://127.0.0.1:{port}"
    # The embedded repository is this user's own: no rate limit to pace against.
    config = RepositoryConfig(data_dir=data_dir, base_url=base, user_limit_per_minute=0, user_limit_per_hour=0,
                              search_limit_per_minute=0)
    app = create_app(config)
    token = app.context.accounts.create_token("depositor@localhost.localdomain", datetime.now(UTC).isoformat(),
                                              name="depot run --target local")
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="error",
                                           http="httptools", loop="asyncio", lifespan="on"))
    thread = threading.Thread(target=server.run, name="depot-embedded-repository", daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise ConfigError(f"the embedded repository in {data_dir} did not start")
        time.sleep(0.02)
    try:
        yield base + "/api", token
        _finish_bags(app.context.jobs, data_dir)
    finally:
        server.should_exit = True
        thread.join(10)


def _finish_bags(jobs: JobQueue, data_dir: Path, *, stalled_s: float = 60.0) -> None:
    """Wait for the bags still queued when a run ends: the run's last records are published faster than their
    bags are written, and a repository that stops here leaves them to its next start, while the user takes the
    folder as preserved now. Ctrl-C leaves them to the next start; so does a queue that stops moving."""
    queued = int(jobs.counts().get("queued", 0))
    if not queued:
        return
    # A count of jobs, not of bags: a bulk group's bags are one job.
    print(f"Writing the bags still queued in {data_dir / 'bags'} ({queued} job(s); "
          "Ctrl-C leaves them to the repository's next start) ...", file=sys.stderr, flush=True)
    last, moved = queued, time.monotonic()
    while queued:
        jobs.drain(1.0)
        queued = int(jobs.counts().get("queued", 0))
        if queued < last:
            last, moved = queued, time.monotonic()
        elif time.monotonic() - moved > stalled_s:
            print(f"bags still queued ({queued} job(s)) after {stalled_s:.0f} s without progress; the repository "
                  f"writes them at its next start (depot serve --data-dir {data_dir})", file=sys.stderr, flush=True)
            return


def _stable_port(data_dir: Path) -> int:
    """The folder's remembered port if it is free now; on a first start, a free port, remembered."""
    remembered = remembered_port(data_dir)
    if remembered is not None:
        return remembered if _is_free(remembered) else _free_port()
    port = _free_port()
    data_dir.mkdir(parents=True, exist_ok=True)
    with contextlib.suppress(OSError):  # a read-only folder: the port is just not remembered
        (data_dir / PORT_FILE).write_text(f"{port}\n", encoding="utf-8")
    return port


def _is_free(port: int) -> bool:
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn binds: TIME_WAIT is no obstacle
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])
