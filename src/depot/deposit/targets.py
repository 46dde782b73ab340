"""Where records go: ``zenodo``, ``sandbox``, any API URL, or ``local`` (an embedded Depot repository).

``local`` starts the repository in this process (uvicorn in a background thread, on a free loopback
port) over a data directory, and mints a token for the depositor: the main job runs on a fresh
machine with no account and no network.
"""

from __future__ import annotations

import contextlib
import os
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from depot.deposit.errors import ConfigError

PUBLIC = {
    "zenodo": "https://zenodo.org/api",
    "sandbox": "https://sandbox.zenodo.org/api",
}
# Zenodo's documented limits for authenticated users (developers.zenodo.org rate-limit page).
ZENODO_LIMITS = (100, 5000)


@dataclass(frozen=True)
class Target:
    name: str
    api_url: str
    token: str
    per_minute: int | None  # the rate limit to assume before the first response says otherwise
    per_hour: int | None


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


@contextlib.contextmanager
def open_target(name: str, *, token_file: Path | None = None, repo_dir: Path = Path("depot-data"),
                per_minute: int | None = None, per_hour: int | None = None) -> Iterator[Target]:
    """Resolve a target name or URL; for ``local``, run the embedded repository while in use."""
    if name == "local":
        with embedded_repository(repo_dir) as (api_url, token):
            yield Target("local", api_url, read_token(token_file) or token, per_minute, per_hour)
        return
    api_url = PUBLIC.get(name, name)
    if not api_url.startswith(("http://", "https://")):
        raise ConfigError(f"unknown target {name!r}: use local, zenodo, sandbox or an API URL such as "
                          "https://zenodo.example.org/api")
    found = read_token(token_file)
    if not found:
        raise ConfigError(f"no token for {name}: set DEPOT_TOKEN or pass --token-file FILE")
    token = found
    if name in PUBLIC:
        per_minute = per_minute or ZENODO_LIMITS[0]
        per_hour = per_hour or ZENODO_LIMITS[1]
    yield Target(name, api_url.rstrip("/"), token, per_minute, per_hour)


@contextlib.contextmanager
def embedded_repository(data_dir: Path, *, port: int | None = None) -> Iterator[tuple[str, str]]:
    """Serve a Depot repository from ``data_dir`` on loopback; yields (API URL, a fresh token)."""
    import uvicorn

    from depot.repository.app import create_app
    from depot.repository.config import RepositoryConfig

    port = port or _free_port()
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
    finally:
        server.should_exit = True
        thread.join(10)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])
