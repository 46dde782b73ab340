"""Read a profile's TOML, check it, and compile its templates (schema: docs/profiles.md).

Checks made at load time, so that a typo fails once, before any deposit, rather than on every specimen:
unknown sections and keys, metadata keys Zenodo does not have, template syntax, names that are neither a
Darwin Core term nor a template variable, and ``vars.x`` for an undeclared ``x``.
"""

from __future__ import annotations

import datetime as dt
import os
import re
import tomllib
from collections.abc import Mapping
from importlib.resources import files
from pathlib import Path
from typing import Any

from jinja2 import TemplateSyntaxError, meta, nodes
from jinja2.sandbox import SandboxedEnvironment

from depot.deposit.images.rules import RulesError, rules_from_table
from depot.deposit.profiles.environment import RESERVED, make_environment
from depot.deposit.profiles.errors import ProfileError
from depot.deposit.profiles.nodes import Array, Conditional, Expression, Literal, Node, Table, Text
from depot.deposit.profiles.profile import Profile
from depot.deposit.profiles.vocabulary import HTML_FIELDS
from depot.deposit.sources.terms import TERM_URIS
from depot.metadata import KNOWN as ZENODO_FIELDS

_SECTIONS = {"profile", "vars", "metadata", "licence", "images"}
_PROFILE_KEYS = {"name", "description", "required", "sidecar", "sidecar_name", "cetaf_term", "extra_terms"}
_DIRECTIVES = {"when", "for_each", "as", "value", "expr"}
_JINJA_GLOBALS = {"range", "dict", "lipsum", "cycler", "joiner", "namespace"}
_DEFAULT_REQUIRED = ("title", "upload_type", "creators")
_DEFAULT_SIDECAR_NAME = "{{ key | filename }}.json"


def list_profiles() -> list[str]:
    """Names of the profiles shipped with Depot."""
    data = files("depot.deposit.profiles").joinpath("data")
    return sorted(entry.name.removesuffix(".toml") for entry in data.iterdir() if entry.name.endswith(".toml"))


def load_profile(name_or_path: str | os.PathLike[str], overrides: Mapping[str, Any] | None = None) -> Profile:
    """A shipped profile by name (``icedig-benchmark``) or a profile file by path, with ``[vars]`` overrides.

    Raises ProfileError, naming the file and the key or line, when the profile cannot be used.
    """
    source, text, default_name = _read(name_or_path)
    try:
        document = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        line = re.search(r"line (\d+)", str(exc))
        raise ProfileError(source, f"not valid TOML: {exc}", line=int(line.group(1)) if line else None) from exc
    profile = _Compiler(source, text).build(document, default_name)
    return profile.with_vars(overrides) if overrides else profile


def _read(name_or_path: str | os.PathLike[str]) -> tuple[str, str, str]:
    given = os.fspath(name_or_path)
    path = Path(given)
    try:
        if path.suffix == ".toml" or os.sep in given or path.exists():
            if not path.is_file():
                raise ProfileError(given, "no such profile file")
            return given, path.read_text(encoding="utf-8"), path.stem
        resource = files("depot.deposit.profiles").joinpath("data", f"{given}.toml")
        if not resource.is_file():
            raise ProfileError(f"package:{given}", f"no shipped profile {given!r} (shipped: "
                                                   f"{', '.join(list_profiles())}); or give a .toml file's path")
        return f"package:{given}", resource.read_text(encoding="utf-8"), given
    except (OSError, UnicodeDecodeError) as exc:
        raise ProfileError(given, f"cannot read the profile: {exc}") from exc


class _Compiler:
    def __init__(self, source: str, text: str) -> None:
        self.source = source
        self.text = text
        self.env: SandboxedEnvironment = make_environment()
        self.allowed: set[str] = set(RESERVED) | set(TERM_URIS) | _JINJA_GLOBALS
        self.var_names: set[str] = set()
        self.uses_known_terms = False

    def fail(self, reason: str, key: str, snippet: str | None = None) -> ProfileError:
        line = None
        if snippet and snippet.strip():
            first = snippet.strip().splitlines()[0]
            # a bare key name is looked for where it is assigned, not in a comment or template before it
            found = re.search(rf'(?m)^\s*"?{re.escape(first)}"?\s*=', self.text) if first.isidentifier() else None
            position = found.start() if found else self.text.find(first)
            line = self.text.count("\n", 0, position) + 1 if position >= 0 else None
        return ProfileError(self.source, reason, key=key, line=line)

    def build(self, document: dict[str, Any], default_name: str) -> Profile:
        unknown = sorted(set(document) - _SECTIONS)
        if unknown:
            raise self.fail(f"unknown section(s) {', '.join(unknown)}; expected [profile], [vars], [metadata], "
                            "[licence], [images] (a list of tables inside [metadata] is [[metadata.<field>]])",
                            unknown[0],
                            f"[{unknown[0]}")
        settings = self._table(document.get("profile", {}), "profile")
        variables = self._table(document.get("vars", {}), "vars")
        metadata = self._table(document.get("metadata"), "metadata")
        try:
            images = rules_from_table(self._table(document.get("images", {}), "images"))
        except RulesError as exc:
            raise self.fail(exc.reason, f"images.{exc.key}", exc.key) from exc
        if set(settings) - _PROFILE_KEYS:
            bad = sorted(set(settings) - _PROFILE_KEYS)[0]
            raise self.fail(f"unknown key; [profile] has {', '.join(sorted(_PROFILE_KEYS))}", f"profile.{bad}", bad)
        sidecar = settings.get("sidecar")
        if sidecar not in (None, "jsonld"):
            raise self.fail("the only sidecar is \"jsonld\"", "profile.sidecar", "sidecar")
        for name, value in variables.items():
            if not isinstance(value, str | int | float | bool | list):
                raise self.fail("a variable is a string, number, boolean or list", f"vars.{name}", name)
        self.var_names = set(variables)
        self.allowed |= set(self._strings(settings, "extra_terms"))
        for key in metadata:
            if key not in ZENODO_FIELDS:
                raise self.fail("not a field of Zenodo's deposit metadata", f"metadata.{key}", key)
        fields = {key: self.compile(value, f"metadata.{key}", html=key in HTML_FIELDS, in_list=False, loop=set())
                  for key, value in metadata.items()}
        required = self._strings(settings, "required", _DEFAULT_REQUIRED)
        for key in required:
            if key not in metadata:
                raise self.fail(f"required field {key!r} is not in [metadata]", "profile.required", "required")
        licence = self._table(document.get("licence", {}), "licence")
        if set(licence) - {"prefer"} or licence.get("prefer", "media") not in ("media", "record"):
            raise self.fail('[licence] has one key, prefer = "media" or "record" (which licence wins when the '
                            "media's and the record's differ)", "licence.prefer", "prefer")
        sidecar_name = self.compile(self._string(settings, "sidecar_name", _DEFAULT_SIDECAR_NAME),
                                    "profile.sidecar_name", html=False, in_list=False, loop=set())
        return Profile(
            name=self._string(settings, "name", default_name),
            source=self.source,
            description=self._string(settings, "description", ""),
            variables=variables,
            required=frozenset(required),
            sidecar=sidecar,
            cetaf_term=self._string(settings, "cetaf_term", "occurrenceID"),
            fields=fields,
            sidecar_name=sidecar_name,
            uses_known_terms=self.uses_known_terms,
            licence_prefer=licence.get("prefer"),
            images=images,
        )

    def _table(self, value: Any, key: str) -> dict[str, Any]:
        if not isinstance(value, dict):
            raise self.fail(f"[{key}] must be a table" if value is not None else f"[{key}] is missing", key)
        return value

    def _string(self, settings: dict[str, Any], key: str, default: str) -> str:
        value = settings.get(key, default)
        if not isinstance(value, str):
            raise self.fail("must be a string", f"profile.{key}", key)
        return value

    def _strings(self, settings: dict[str, Any], key: str, default: tuple[str, ...] = ()) -> list[str]:
        value = settings.get(key, list(default))
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise self.fail("must be a list of strings", f"profile.{key}", key)
        return value

    def compile(self, raw: Any, key: str, *, html: bool, in_list: bool, loop: set[str]) -> Node:
        if isinstance(raw, str):
            return self._text(raw, key, html, loop)
        if isinstance(raw, bool | int | float):
            return Literal(key, raw)
        if isinstance(raw, dt.date | dt.datetime | dt.time):
            return Literal(key, raw.isoformat())
        if isinstance(raw, list):
            return Array(key, [self.compile(v, f"{key}[{i}]", html=html, in_list=True, loop=loop)
                               for i, v in enumerate(raw)])
        assert isinstance(raw, dict)
        directives = {k: raw[k] for k in _DIRECTIVES if k in raw}
        if not directives:
            return Table(key, {k: self.compile(v, f"{key}.{k}", html=html, in_list=False, loop=loop)
                               for k, v in raw.items()})
        return self._conditional(raw, directives, key, html, in_list, loop)

    def _conditional(self, raw: dict[str, Any], directives: dict[str, Any], key: str, html: bool, in_list: bool,
                     loop: set[str]) -> Node:
        for name in ("when", "for_each", "as", "value", "expr"):
            if name in directives and not isinstance(directives[name], str):
                raise self.fail(f"{name} must be a string", f"{key}.{name}", name)
        if "for_each" in directives and not in_list:
            raise self.fail("for_each repeats a list item; use it inside a list ([[...]] or [ ... ])", key, "for_each")
        if "as" in directives and ("for_each" not in directives or not directives["as"].isidentifier()):
            raise self.fail("as names the for_each loop variable and must be an identifier", f"{key}.as", "as")
        loop_name = directives.get("as", "item")
        inner_loop = loop | {loop_name} if "for_each" in directives else loop
        for_each = self._expression(directives["for_each"], f"{key}.for_each", loop) if "for_each" in directives \
            else None
        when = self._expression(directives["when"], f"{key}.when", inner_loop) if "when" in directives else None
        rest = {k: v for k, v in raw.items() if k not in _DIRECTIVES}
        if "value" in directives or "expr" in directives:
            if rest or ("value" in directives and "expr" in directives):
                raise self.fail("a value or expr item has only when/for_each/as beside it", key)
            inner: Node = (self._text(directives["value"], f"{key}.value", html, inner_loop) if "value" in directives
                           else self._expression(directives["expr"], f"{key}.expr", inner_loop))
        else:
            inner = Table(key, {k: self.compile(v, f"{key}.{k}", html=html, in_list=False, loop=inner_loop)
                                for k, v in rest.items()})
        return Conditional(key, inner=inner, when=when, for_each=for_each, loop_name=loop_name)

    def _text(self, source: str, key: str, html: bool, loop: set[str]) -> Node:
        if "{" not in source:
            return Literal(key, source.strip())
        wrapped = f"{{% autoescape true %}}{source}{{% endautoescape %}}" if html else source
        names = self._check(wrapped, key, source, loop)
        return Text(key, self.env.from_string(wrapped), names)

    def _expression(self, source: str, key: str, loop: set[str]) -> Expression:
        names = self._check(f"{{{{ ({source}) }}}}", key, source, loop)
        try:
            return Expression(key, self.env.compile_expression(source, undefined_to_none=False), names)
        except TemplateSyntaxError as exc:
            raise self.fail(f"expression syntax error: {exc.message}", key, source) from exc

    def _check(self, template: str, key: str, snippet: str, loop: set[str]) -> tuple[str, ...]:
        """The names the template reads; ProfileError for bad syntax or a name nothing will define."""
        try:
            tree = self.env.parse(template)
        except TemplateSyntaxError as exc:
            raise self.fail(f"template syntax error: {exc.message}", key, snippet) from exc
        names = meta.find_undeclared_variables(tree)
        for name in sorted(names - self.allowed - loop):
            raise self.fail(f"unknown name {name!r}: not a Darwin Core term nor a template variable "
                            f"({', '.join(sorted(RESERVED))}); if the data has such a column, list it in "
                            "[profile] extra_terms", key, snippet)
        self.uses_known_terms |= "known_terms" in names
        for node in tree.find_all((nodes.Getattr, nodes.Getitem)):
            attr = getattr(node, "attr", None) or getattr(getattr(node, "arg", None), "value", None)
            target = getattr(node, "node", None)
            if isinstance(target, nodes.Name) and target.name == "vars" and isinstance(attr, str) \
                    and attr not in self.var_names:
                raise self.fail(f"vars.{attr} is not declared in [vars]", key, snippet)
        return tuple(sorted(names))
