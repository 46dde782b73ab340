"""``--file-name TEMPLATE``: the names deposited files get, made from the specimen (pure).

The pilot's Meise sheets were all called ``barcode.jpg`` on disk; a template such as ``{catalogNumber}.jpg``
names each deposited file after its specimen. Fields are the specimen's Darwin Core terms plus ``key``,
``stem`` and ``ext`` (the file's own name without and with its extension's dot, e.g. ``.jpg``) and ``n``
(the file's number within the specimen, from 1). Two files given one name, and names that could not be
a file name in a deposit (slashes, control characters, empty, ``..``), are problems of the specimen.
"""

from __future__ import annotations

import posixpath
import string
from dataclasses import replace
from typing import Any

from depot.deposit.models import FileSpec, PlannedRecord

MAX_NAME = 255
_FORMATTER = string.Formatter()


class FileNameTemplateError(ValueError):
    """Raised when a --file-name template cannot be parsed (an unclosed brace, a positional field)."""


def parse(template: str) -> list[str]:
    """The field names of ``template``; raises FileNameTemplateError for a malformed one."""
    try:
        fields = [f for _, f, _, _ in _FORMATTER.parse(template) if f is not None]
    except ValueError as exc:
        raise FileNameTemplateError(f"--file-name {template!r}: {exc}") from exc
    if any(not f or f.isdigit() for f in fields):
        raise FileNameTemplateError(f"--file-name {template!r}: every field needs a name, e.g. {{catalogNumber}}")
    return fields


def unsafe(name: str) -> str | None:
    """Why ``name`` cannot be a deposited file's name, or None if it can."""
    if not name.strip():
        return "it is empty"
    if "/" in name or "\\" in name:
        return "it holds a slash"
    if any(ord(c) < 32 or ord(c) == 127 for c in name):
        return "it holds a control character"
    if name in (".", "..") or name != name.strip():
        return "it is '.', '..' or starts or ends with a space"
    if len(name.encode()) > MAX_NAME:
        return f"it is longer than {MAX_NAME} bytes"
    return None


def name_files(record: PlannedRecord, template: str) -> PlannedRecord:
    """``record`` with its files renamed by ``template``; what cannot be named is added to its problems."""
    problems: list[str] = []
    renamed: list[FileSpec] = []
    for n, spec in enumerate(record.files, start=1):
        stem, ext = posixpath.splitext(spec.name)
        values: dict[str, Any] = {**record.terms, "key": record.key, "stem": stem, "ext": ext, "n": n}
        try:
            name = template.format_map(_Strict(values))
        except KeyError as exc:
            problems.append(f"--file-name {template!r}: the specimen has no {exc.args[0]}")
            renamed.append(spec)
            continue
        except (ValueError, IndexError, AttributeError) as exc:
            problems.append(f"--file-name {template!r}: {exc}")
            renamed.append(spec)
            continue
        why = unsafe(name)
        if why:
            problems.append(f"--file-name {template!r} gives {name!r} for {spec.name}, which cannot be a file "
                            f"name: {why}")
        renamed.append(replace(spec, name=name))
    names = [s.name for s in renamed] + [name for name, _ in record.sidecars]
    for name in sorted({n for n in names if names.count(n) > 1}):
        problems.append(f"--file-name {template!r} gives two files the name {name!r} (add {{n}} or {{stem}} "
                        "to the template)")
    return replace(record, files=tuple(renamed), problems=(*record.problems, *problems))


class _Strict(dict[str, Any]):
    """Empty terms count as missing, so a specimen without a catalogNumber is not named '.jpg'."""

    def __getitem__(self, key: str) -> Any:
        value = super().__getitem__(key)
        if value == "":
            raise KeyError(key)
        return value
