"""The sandboxed Jinja environment profile templates run in, and what a template sees of a specimen.

A term a specimen lacks is a :class:`MissingTerm`: printing it, iterating it or computing with it raises
:class:`MissingTermError` naming the term (as jinja's StrictUndefined does), but it is false in a test, so
``{% if family %}`` and ``locality or country`` work on specimens that lack a term.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator, Mapping
from dataclasses import asdict
from functools import partial
from typing import Any

from jinja2 import Undefined, UndefinedError
from jinja2.sandbox import SandboxedEnvironment
from jinja2.utils import missing

from depot.deposit.images.results import FileCheck
from depot.deposit.models import Specimen
from depot.deposit.profiles.filters import FILTERS
from depot.deposit.sources.terms import term_prefix, term_uri

# names a template sees besides the specimen's terms; they win over a column of the same name
RESERVED = frozenset({"key", "terms", "files", "media", "vars", "cetaf_id", "known_terms", "row", "image"})


class MissingTermError(UndefinedError):
    """Raised inside a template that prints or computes with a term the specimen does not have."""

    def __init__(self, name: str, message: str | None = None) -> None:
        super().__init__(message or f"{name!r} is undefined")
        self.name = name


class MissingTerm(Undefined):
    """Like jinja's StrictUndefined for printing, iterating and arithmetic, but false in tests (as the
    plain Undefined is); its errors are MissingTermError with the missing name."""

    __slots__ = ()

    def __init__(self, hint: str | None = None, obj: Any = missing, name: str | None = None,
                 exc: type[Exception] = UndefinedError) -> None:
        super().__init__(hint, obj, name, exc)  # type: ignore[arg-type]
        if exc is UndefinedError:  # the sandbox passes SecurityError for unsafe access: keep that one
            self._undefined_exception = partial(MissingTermError, name or "?")  # type: ignore[assignment]

    def __str__(self) -> str:
        self._fail_with_undefined_error()

    def __iter__(self) -> Iterator[Any]:
        self._fail_with_undefined_error()

    def __len__(self) -> int:
        self._fail_with_undefined_error()

    def __contains__(self, item: object) -> bool:
        self._fail_with_undefined_error()


def _finalize(value: Any) -> Any:
    return "" if value is None else value


class _Sandbox(SandboxedEnvironment):
    def make_globals(self, d: Any = None) -> Any:
        # A plain dict, not jinja's ChainMap over the environment's globals: every render copies a
        # template's globals into its context, and iterating a ChainMap in Python was 45 % of a
        # record's mapping. The environment's globals never change after make_environment.
        return {**self.globals, **(d or {})}

    def handle_exception(self, source: str | None = None) -> Any:
        # A missing term is an everyday answer (a specimen lacks a term; the field is dropped), not a
        # bug to show in the template's lines: jinja's traceback rewriting compiles code for each one,
        # which cost more than the rest of a record's planning.
        if isinstance(sys.exc_info()[1], MissingTermError):
            raise  # called from inside jinja's except block: the missing term as it is
        return super().handle_exception(source)


def make_environment() -> SandboxedEnvironment:
    """A sandbox with MissingTerm and the profile filters (HTML fields turn autoescape on themselves)."""
    env = _Sandbox(undefined=MissingTerm, finalize=_finalize,
                               trim_blocks=True, lstrip_blocks=True)
    env.filters.update(FILTERS)
    return env


def specimen_context(specimen: Specimen, variables: Mapping[str, Any], *, cetaf_term: str,
                     known_terms: bool, images: Mapping[str, FileCheck] | None = None) -> dict[str, Any]:
    """The names a template sees: every term by its simple name, plus ``key``, ``terms``, ``files``,
    ``media``, ``vars``, ``row``, ``cetaf_id`` (when the CETAF term holds an http(s) URI) and, if asked
    for, ``known_terms`` (the Darwin/Dublin Core terms with their URIs, in source order).

    ``images`` are the files' checks by path: each checked file gets ``format``, ``width``, ``height``,
    ``pixels``, ``bands``, ``colour_space`` and ``barcodes``, and ``image`` is the first image file's."""
    context: dict[str, Any] = dict(specimen.terms)
    context.update(
        key=specimen.key,
        terms=dict(specimen.terms),
        row=specimen.row,
        vars=variables,
        files=[{"name": f.name, "path": f.path, "size": f.size,
                "extension": os.path.splitext(f.name)[1].lower().lstrip(".")} for f in specimen.files],
        media=[asdict(m) for m in specimen.media],
    )
    _add_images(context, images or {})
    cetaf = specimen.terms.get(cetaf_term, "").strip()
    if cetaf.lower().startswith(("http://", "https://")):
        context["cetaf_id"] = cetaf
    else:
        context.pop("cetaf_id", None)
    if known_terms:
        context["known_terms"] = [
            {"name": name, "value": value, "uri": term_uri(name), "prefix": term_prefix(name)}
            for name, value in specimen.terms.items() if term_uri(name) is not None
        ]
    return context


def _add_images(context: dict[str, Any], images: Mapping[str, FileCheck]) -> None:
    context.pop("image", None)
    for entry in context["files"]:
        check = images.get(entry["path"])
        if check is None:
            continue
        properties = check.properties()
        entry.update({k: v for k, v in properties.items() if k not in ("name", "size")})
        if check.format is not None and "image" not in context:
            context["image"] = properties


def is_missing(value: Any) -> bool:
    return isinstance(value, Undefined)
