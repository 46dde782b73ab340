"""Where the depositor's option values come from besides the command line: ``DEPOT_*`` environment
variables and an optional TOML config file; plus ``-v``/``-q`` and durations such as ``--stats 1m``.

Precedence, highest first (click's own order): the command line, ``DEPOT_<OPTION>`` (the long flag in
upper case, dashes as underscores: ``--ledger`` -> ``DEPOT_LEDGER``), the config file, the default.

The config file is ``--config FILE``, else ``$DEPOT_CONFIG``, else ``./depot.toml`` when present. Keys at
its top level apply to every command that has such an option; a ``[run]``, ``[sync]``, ``[status]``...
table applies to that command only::

    ledger = "museum-ledger.sqlite3"

    [run]
    target = "sandbox"
    transfers = 4
    var = ["institution=Meise Botanic Garden"]

The token is never read from here (a config file is easily shared): ``DEPOT_TOKEN`` or ``--token-file``.
See docs/config.md.
"""

from __future__ import annotations

import logging
import re
import sys
import tomllib
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import click

from depot.deposit.errors import ConfigError

ENV_PREFIX = "DEPOT"
DEFAULT_FILE = "depot.toml"
# Variables with a meaning of their own: never bound to an option.
_RESERVED_ENV = {"DEPOT_TOKEN", "DEPOT_CONFIG"}
_DURATION = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h|d)")
_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}


# -- durations ------------------------------------------------------------------------------------------
def parse_duration(text: str) -> float:
    """Seconds in ``1m``, ``30s``, ``1h30m``, ``500ms`` or a plain number of seconds (``0``: off)."""
    raw = text.strip().lower()
    try:
        value = float(raw)
    except ValueError:
        pass
    else:
        if value < 0 or value != value:
            raise ValueError(f"not a duration (negative or NaN): {text!r}")
        return value
    pos, total = 0, 0.0
    for match in _DURATION.finditer(raw):
        if match.start() != pos:
            break
        total += float(match.group(1)) * _UNITS[match.group(2)]
        pos = match.end()
    if pos != len(raw) or not raw:
        raise ValueError(f"not a duration: {text!r} (examples: 30s, 1m, 1h30m, 500ms)")
    return total


class Duration(click.ParamType[float]):
    """A click type for durations: ``--stats 1m``."""

    name = "DURATION"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> float:
        if isinstance(value, int | float):
            return float(value)
        try:
            return parse_duration(str(value))
        except ValueError as exc:
            self.fail(str(exc), param, ctx)


# -- verbosity and logging ------------------------------------------------------------------------------
_VERBOSITY_KEY = "depot.verbosity"


def set_verbosity(ctx: click.Context, verbose: int, quiet: bool) -> int:
    """Record -v/-q for every subcommand and set the logging levels: -q errors only, default warnings,
    -v Depot's info messages (and per-record events), -vv debug, other libraries' too."""
    level = -1 if quiet else verbose
    ctx.meta[_VERBOSITY_KEY] = level
    root = logging.getLogger()
    if not any(isinstance(h, _StderrHandler) for h in root.handlers):
        handler = _StderrHandler()
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        root.addHandler(handler)
    # Depot's own loggers follow -v; other libraries' (alembic, HTTP clients) stay at warnings until -vv.
    logging.getLogger("depot").setLevel(
        {-1: logging.ERROR, 0: logging.WARNING, 1: logging.INFO}.get(level, logging.DEBUG))
    root.setLevel(logging.ERROR if level < 0 else logging.WARNING if level < 2 else logging.DEBUG)
    return level


class _StderrHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to whatever ``sys.stderr`` is when a record comes (click's test runner swaps it)."""

    def emit(self, record: logging.LogRecord) -> None:
        self.stream = sys.stderr
        super().emit(record)


def verbosity() -> int:
    """-1 with -q, 0 by default, 1 with -v, 2 with -vv (0 outside a click command)."""
    ctx = click.get_current_context(silent=True)
    return int(ctx.meta.get(_VERBOSITY_KEY, 0)) if ctx is not None else 0


# -- environment variables -------------------------------------------------------------------------------
def env_name(option: click.Option) -> str:
    """``--low-level-retries`` -> ``DEPOT_LOW_LEVEL_RETRIES``."""
    longest = max((o for o in option.opts if o.startswith("--")), key=len, default=option.name or "")
    return f"{ENV_PREFIX}_" + longest.lstrip("-").replace("-", "_").upper()


def bind_environment(commands: Iterable[click.Command], reserved: Iterable[str] = ()) -> None:
    """Give every option of ``commands`` its ``DEPOT_<OPTION>`` variable, shown in --help.

    Names in ``reserved`` (the repository's settings, read by depot serve) are left alone so that one
    variable never means two things.
    """
    taken = set(_RESERVED_ENV) | {n.upper() for n in reserved}
    for command in commands:
        for param in command.params:
            if not isinstance(param, click.Option) or param.hidden or param.name in ("help", "version"):
                continue
            name = env_name(param)
            if param.envvar is None and name not in taken:
                param.envvar = name
                param.show_envvar = True


# -- the config file -----------------------------------------------------------------------------------
CONFIG_PATH_KEY = "depot.config_path"  # ctx.meta: the config file read, if any
def config_path(given: Path | None, cwd: Path | None = None) -> Path | None:
    """The file to read: the one given (--config or DEPOT_CONFIG), else ./depot.toml if it exists."""
    if given is not None:
        return given
    default = (cwd or Path.cwd()) / DEFAULT_FILE
    return default if default.is_file() else None


def read_config(path: Path) -> dict[str, Any]:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError as exc:
        raise ConfigError(f"config file {path} does not exist (from --config or DEPOT_CONFIG)") from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"config file {path}: cannot read it: {exc}") from exc
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"config file {path}: not valid TOML: {exc}") from exc


def _option_keys(command: click.Command) -> dict[str, str]:
    """Config keys a command accepts -> its parameter names: the long flag with - or _ (``rate-limit``)."""
    keys: dict[str, str] = {}
    for param in command.params:
        if isinstance(param, click.Option) and param.name and param.name not in ("help", "version"):
            for opt in param.opts:
                if opt.startswith("--"):
                    flag = opt[2:]
                    keys[flag] = keys[flag.replace("-", "_")] = param.name
    return keys


def default_map(document: Mapping[str, Any], commands: Mapping[str, click.Command], source: str) -> dict[str, Any]:
    """Turn the config file into click's ``default_map`` (command name -> parameter name -> value).

    Unknown sections and keys fail with the file, the section and the key, instead of being ignored.
    """
    shared = {k: v for k, v in document.items() if not isinstance(v, dict)}
    sections = {k: v for k, v in document.items() if isinstance(v, dict)}
    for name in sections:
        if name not in commands:
            raise ConfigError(f"config file {source}: no command {name!r} for section [{name}] "
                              f"(commands: {', '.join(sorted(commands))})")
    every: set[str] = set()
    out: dict[str, Any] = {}
    for name, command in commands.items():
        keys = _option_keys(command)
        every.update(keys)
        values: dict[str, Any] = {}
        for key, value in shared.items():
            if key in keys:
                values[keys[key]] = _checked(command, keys[key], value, f"{source}: {key}")
        for key, value in sections.get(name, {}).items():
            _refuse_token(key, source, f"[{name}]")
            if key not in keys:
                raise ConfigError(f"config file {source}: [{name}] has no option {key!r} "
                                  f"(depot {name} --help lists them)")
            values[keys[key]] = _checked(command, keys[key], value, f"{source}: [{name}] {key}")
        if values:
            out[name] = values
    for key in shared:
        _refuse_token(key, source, "the top level")
        if key not in every:
            raise ConfigError(f"config file {source}: no command has an option {key!r} (at the top level)")
    return out


def _checked(command: click.Command, name: str, value: Any, where: str) -> Any:
    """The value as the option would take it from the command line; a wrong type or shape fails here,
    naming the file and the key (click's own message would name the environment variable)."""
    param = next(p for p in command.params if p.name == name)
    many = param.multiple or param.nargs != 1
    if isinstance(value, list) != many:
        shape = "a list, e.g. [\"a\", \"b\"]" if many else "one value, not a list"
        raise ConfigError(f"config file {where}: expects {shape}")
    if isinstance(value, dict):
        raise ConfigError(f"config file {where}: expects a value, not a table")
    try:
        param.type_cast_value(click.Context(command), value)
    except click.BadParameter as exc:
        raise ConfigError(f"config file {where} = {value!r}: {exc.message}") from exc
    return value


def _refuse_token(key: str, source: str, where: str) -> None:
    if key.replace("-", "_") in ("token", "access_token"):
        raise ConfigError(f"config file {source}: {where} sets {key!r}; the token is read only from DEPOT_TOKEN "
                          "or --token-file, so that config files can be shared")
