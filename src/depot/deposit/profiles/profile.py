"""A loaded mapping profile: applying it to a specimen gives the deposit it becomes."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from depot.deposit.images.results import FileCheck
from depot.deposit.images.rules import ImageRules
from depot.deposit.models import PlannedRecord, Specimen
from depot.deposit.profiles.environment import MissingTermError, specimen_context
from depot.deposit.profiles.errors import ProfileError
from depot.deposit.profiles.filters import filename
from depot.deposit.profiles.nodes import DROP, EvaluationError, Node, evaluate_fields
from depot.deposit.profiles.sidecar import jsonld_document

_TRUE, _FALSE = {"true", "yes", "1", "on"}, {"false", "no", "0", "off", ""}


@dataclass(frozen=True)
class Profile:
    """A mapping from a specimen's Darwin Core terms to Zenodo deposit metadata.

    Build one with :func:`load_profile`. ``variables`` are the profile's ``[vars]``; ``required`` the
    top-level fields whose absence is a problem rather than a silent omission.
    """

    name: str
    source: str  # the profile file, or "package:<name>" for a shipped profile
    description: str = ""
    variables: Mapping[str, Any] = field(default_factory=dict)
    required: frozenset[str] = frozenset()
    sidecar: str | None = None
    cetaf_term: str = "occurrenceID"
    fields: Mapping[str, Node] = field(default_factory=dict, repr=False)
    sidecar_name: Node | None = field(default=None, repr=False)
    uses_known_terms: bool = False
    # [licence] prefer: which licence wins when the media's differ from the record's ("media" or
    # "record"); None makes a more restrictive media licence a problem (depot.deposit.verdict).
    licence_prefer: str | None = None
    images: ImageRules = field(default_factory=ImageRules)  # the [images] table: what the image check asks

    def with_vars(self, overrides: Mapping[str, Any]) -> Profile:
        """A copy with some ``[vars]`` replaced; strings are converted to the type of the default
        (``"a,b"`` for a list). Raises ProfileError for a variable the profile does not declare."""
        merged = dict(self.variables)
        for name, value in overrides.items():
            if name not in merged:
                known = ", ".join(sorted(merged)) or "none"
                raise ProfileError(self.source, f"no variable {name!r} (variables: {known})", key=f"vars.{name}")
            merged[name] = _coerce(value, merged[name], self.source, name)
        return replace(self, variables=merged)

    def apply(self, specimen: Specimen, images: Mapping[str, FileCheck] | None = None) -> PlannedRecord:
        """The PlannedRecord for one specimen. Never raises: template failures and the specimen's own
        problems end up in ``problems``. ``images`` (FileCheck by file path, from depot.deposit.images)
        lets templates use ``image.width`` and the like; without them such values are missing terms."""
        context = specimen_context(specimen, self.variables, cetaf_term=self.cetaf_term,
                                   known_terms=self.uses_known_terms, images=images)
        metadata, problems = evaluate_fields(self.fields, context, self.required)
        sidecars: tuple[tuple[str, bytes], ...] = ()
        if self.sidecar == "jsonld":
            name = self._sidecar_file_name(context, specimen.key, problems)
            if any(f.name == name for f in specimen.files):
                problems.append(f"sidecar {name} has the same name as an image file")
            sidecars = ((name, jsonld_document(specimen, context.get("cetaf_id"))),)
        if self.licence_prefer == "media":
            _media_licence_wins(metadata, specimen, problems)
        return PlannedRecord(key=specimen.key, metadata=metadata, files=specimen.files, sidecars=sidecars,
                             problems=(*specimen.problems, *problems), row=specimen.row, terms=specimen.terms,
                             media=specimen.media, licence_prefer=self.licence_prefer, file_checks=images or {})

    def _sidecar_file_name(self, context: Mapping[str, Any], key: str, problems: list[str]) -> str:
        fallback = f"{filename(key)}.json"
        if self.sidecar_name is None:
            return fallback
        try:
            name = self.sidecar_name.value(context, False)
        except (MissingTermError, EvaluationError) as exc:
            problems.append(f"sidecar_name: {exc}; using {fallback}")
            return fallback
        return fallback if name is DROP else str(name)


def _media_licence_wins(metadata: dict[str, Any], specimen: Specimen, problems: list[str]) -> None:
    """``[licence] prefer = "media"``: the record takes its media's licence where that is more restrictive
    (images CC BY-SA, data CC BY: CC BY-SA); a less restrictive image licence leaves the record's as it is."""
    from depot.deposit.licences import more_restrictive, most_restrictive
    from depot.deposit.profiles.vocabulary import zenodo_license_id

    ids = []
    for ref in specimen.media:
        if ref.license:
            try:
                ids.append(zenodo_license_id(ref.license))
            except ValueError as exc:
                problems.append(f"media licence: {exc}")
    current = metadata.get("license")
    stricter = [i for i in ids if not isinstance(current, str) or more_restrictive(i, current)]
    if stricter:
        metadata["license"] = most_restrictive(stricter)


def _coerce(value: Any, default: Any, source: str, name: str) -> Any:
    if not isinstance(value, str) or isinstance(default, str):
        return value
    try:
        if isinstance(default, bool):
            if value.strip().lower() not in _TRUE | _FALSE:
                raise ValueError(f"{value!r} is not true or false")
            return value.strip().lower() in _TRUE
        if isinstance(default, int):
            return int(value)
        if isinstance(default, float):
            return float(value)
        if isinstance(default, list):
            return [item.strip() for item in value.split(",") if item.strip()]
    except ValueError as exc:
        raise ProfileError(source, f"bad value for variable {name!r}: {exc}", key=f"vars.{name}") from exc
    return value
