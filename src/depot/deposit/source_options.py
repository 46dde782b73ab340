"""The source options a ledger remembers, and how a later command's options meet them (docs/decisions/0019).

No I/O but the file system's: paths are made absolute, and remembered ones checked to exist still.

A ledger's records were planned with its first run's options: how the source is read (``--images``,
``--path-template``, ``--column``, ...), the profile that maps it (``--profile``, ``--var``) and the names of
the deposited files (``--file-name``). A later run that forgot one would plan every record with another
mapping, and a sync would edit published records to match it. So an option a command is not given takes
the ledger's value, and one given with another value is refused once the ledger has sent anything, unless
``--new-options`` says the change is meant. ``--limit`` and ``--checkers`` belong to one run and are not
remembered.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from depot.deposit.errors import ConfigError

# Parameter name -> the flag a data manager types.
FLAGS: dict[str, str] = {
    "kind": "--kind", "images": "--images", "path_template": "--path-template", "key_term": "--key-term",
    "columns": "--column", "header": "--header/--no-header", "delimiter": "--delimiter", "encoding": "--encoding",
    "quoted": "--quotes/--no-quotes", "data_license": "--license", "recursive": "--recursive",
    "group_pattern": "--group-pattern", "fetch_media": "--fetch-media", "media_cache": "--media-cache",
    "profile_name": "--profile", "profile_vars": "--var", "barcode": "--barcode", "file_name": "--file-name",
    "checksums": "--checksums",
}
REMEMBERED = tuple(FLAGS)
_PATHS = ("images", "media_cache")
_MANY = ("columns", "profile_vars", "checksums")  # repeatable options: order does not change their meaning
_MANY_PATHS = ("checksums",)
_TEXTS = ("path_template", "key_term", "encoding", "data_license", "group_pattern", "file_name")
NEW_OPTIONS = "--new-options"


def normal(name: str, value: Any) -> Any:
    """The JSON form of one option's value, as the ledger stores and compares it: absolute paths (a rerun
    from another folder means the same files), repeatable options sorted."""
    if value is None:
        return None
    if name in _PATHS:
        return str(Path(value).expanduser().resolve())
    if name in _MANY_PATHS:
        return sorted(str(Path(v).expanduser().resolve()) for v in value)
    if name == "profile_name" and _is_file(str(value)):
        return str(Path(value).expanduser().resolve())
    if name in _MANY:
        return sorted(str(v) for v in value)
    return value


def restore(name: str, value: Any) -> Any:
    """An option's value as click gives it, from its stored form."""
    if value is None:
        return None
    if name in _PATHS:
        return Path(value)
    if name in _MANY_PATHS:
        return tuple(Path(v) for v in value)
    if name in _MANY:
        return tuple(value)
    return value


def _is_file(profile: str) -> bool:
    """A profile given as a file, not a shipped name (depot.deposit.profiles.loader's rule)."""
    return Path(profile).suffix == ".toml" or os.sep in profile


def shown(name: str, value: Any) -> str:
    """``--profile herbarium``; ``--var a=1 --var b=2``; ``--no-recursive``; ``(no --path-template)``."""
    flag = FLAGS[name]
    if name in _MANY:
        return " ".join(f"{flag} {v}" for v in value) if value else f"(no {flag})"
    if name == "header":
        return {True: "--header", False: "--no-header"}.get(value, f"(no {flag})")
    if name == "quoted":
        return {True: "--quotes", False: "--no-quotes"}.get(value, f"(no {flag})")
    if isinstance(value, bool):  # --recursive/--no-recursive, --fetch-media/--no-fetch-media
        return flag if value else f"--no-{flag[2:]}"
    return f"{flag} {value}" if value is not None else f"(no {flag})"


def described(remembered: Mapping[str, Any]) -> str:
    """The options a ledger remembers that are set, as flags (``depot status``)."""
    return " ".join(shown(name, remembered[name]) for name in REMEMBERED if _set(name, remembered.get(name))) \
        or "(none set)"


def _set(name: str, value: Any) -> bool:
    """Whether an option's remembered value is other than its default (a False header or quotes is a choice;
    a False --recursive or --fetch-media is the default)."""
    if name in ("header", "quoted"):
        return value is not None
    return value not in (None, False, [])


@dataclass
class Resolved:
    """The options a command uses, and what to say and store about them."""

    options: dict[str, Any]  # every source option, in click's types
    remember: dict[str, Any] | None = None  # the ledger's new remembered options; None: as they are
    taken: list[str] = field(default_factory=list)  # names of the options filled in from the ledger
    changed: list[str] = field(default_factory=list)  # "--profile X differs from the ledger's --profile Y"

    def described(self) -> str:
        """The options taken from the ledger, as flags: ``--profile herbarium --images /data/sheets``."""
        return " ".join(shown(name, self.options[name]) for name in self.taken)

    def gone(self) -> str | None:
        """A folder or profile file taken from the ledger that is gone: the message, else None. Said before
        any work, not as every specimen's "image not found" it would otherwise become."""
        return missing_paths(self.options, self.taken)


def resolve(values: Mapping[str, Any], given: Mapping[str, str], remembered: Mapping[str, Any] | None, *,
            sent: bool, new_options: bool) -> Resolved:
    """Meet a command's option ``values`` (``given``: the names the user set, on the command line, in the
    environment or the config file, each with where it came from, e.g. `` (from DEPOT_PROFILE)``) with the
    ledger's ``remembered`` ones: a given option is used, one not
    given is the ledger's. A given empty text (``--path-template ''``) stands for the option's default.

    ``sent``: the ledger has sent records to its target, so a changed option would make records unlike the
    published ones: a ConfigError, unless ``new_options``."""
    options = dict(values)
    for name in set(given) & set(_TEXTS):
        if options.get(name) == "":
            options[name] = None
    taken: list[str] = []
    changed: list[str] = []
    for name in REMEMBERED:
        if remembered is None or name not in remembered:  # a new ledger, or an option its Depot did not know
            continue
        if name in given:
            if normal(name, options.get(name)) != remembered[name]:
                changed.append(_change(name, normal(name, options.get(name)), remembered[name], given[name]))
            continue
        if remembered[name] != normal(name, options.get(name)):  # the ledger's is not what the default is
            taken.append(name)
        options[name] = restore(name, remembered[name])
    if changed and sent and not new_options:
        raise ConfigError(
            "; ".join(changed) + ". The ledger remembers the source options its records were deposited with, "
            "and records planned with others would not match the published ones (a sync edits them to match). "
            f"Drop {'these options' if len(changed) > 1 else 'the option'} to use the ledger's, or give "
            f"{NEW_OPTIONS} to make the given ones the ledger's from now on (`depot check --ledger` shows what a "
            "sync would then change)")
    merged = {name: normal(name, options.get(name)) for name in REMEMBERED}
    return Resolved(options, remember=None if remembered == merged else merged, taken=taken, changed=changed)


def _change(name: str, given: Any, ledger: Any, origin: str = "") -> str:
    return f"{shown(name, given)}{origin} differs from the ledger's {shown(name, ledger)}"


def missing_paths(options: Mapping[str, Any], names: Iterable[str]) -> str | None:
    for name in names:
        value = options.get(name)
        if value is None:
            continue
        if name == "images" and not Path(value).is_dir():
            return (f"the ledger's --images {value} (remembered from an earlier run) is not a folder any more: "
                    f"give --images with its new place and {NEW_OPTIONS}")
        if name == "checksums" and (gone := [str(v) for v in value if not Path(v).is_file()]):
            return (f"the ledger's --checksums {gone[0]} (remembered from an earlier run) is gone: give --checksums "
                    f"with its new place and {NEW_OPTIONS}")
        if name == "profile_name" and _is_file(str(value)) and not Path(value).is_file():
            return (f"the ledger's --profile {value} (remembered from an earlier run) is gone: give --profile "
                    f"with its new place and {NEW_OPTIONS}")
    return None
