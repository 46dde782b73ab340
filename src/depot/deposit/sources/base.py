"""What every source has in common: iteration as a fresh generator, dataset facts, and the specimen key."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Collection, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

from depot.deposit.models import MediaRef, Specimen
from depot.deposit.sources.errors import SourceError
from depot.deposit.sources.media import MediaResolver
from depot.deposit.sources.terms import simple_name

# Chosen once per dataset, never per row: if a row without an occurrenceID fell back to its catalogNumber,
# filling in that occurrenceID later would change the key and deposit the specimen a second time.
DEFAULT_KEY_TERMS = ("occurrenceID", "catalogNumber")


@dataclass(frozen=True)
class DatasetInfo:
    """Facts about the whole dataset. ``license`` is the *data* licence (EML or the caller), never a media's.
    ``license_problem`` says why the dataset states a licence that could not be read (prose naming none)."""

    title: str | None = None
    license: str | None = None
    license_problem: str | None = None


class Source(ABC):
    """A dataset that yields one :class:`Specimen` per specimen, streaming.

    Each ``iter(source)`` is a new generator that reads the data again from the start, holding one row
    at a time. Use the source as a context manager (or call ``close``) to free what it holds open.
    """

    kind: str = ""

    def __init__(self, path: Path, *, key_term: str, dataset: DatasetInfo | None = None) -> None:
        self.path = path
        self.key_term = key_term  # the term whose value is every specimen's key
        self.dataset = dataset or DatasetInfo()

    @abstractmethod
    def _specimens(self) -> Iterator[Specimen]: ...

    def __iter__(self) -> Iterator[Specimen]:
        return self._specimens()

    def keys(self) -> Iterator[tuple[str, int | None]]:
        """(key, row) of every specimen, in the order iteration yields them: a cheap first pass that finds
        duplicate keys before anything is sent. Sources that can read the key column alone override it."""
        for specimen in self._specimens():
            yield specimen.key, specimen.row

    def close(self) -> None:  # noqa: B027 - most sources hold nothing open between iterations
        """Release open files and temporary copies; the source cannot be iterated afterwards."""

    def __enter__(self) -> Source:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.path} key={self.key_term}>"


def choose_key_term(path: Path, available: Collection[str], key_term: str | None) -> str:
    """The key term for a dataset with these terms: ``key_term`` if given, else occurrenceID, else catalogNumber.

    Raises SourceError when the chosen term is not in the data at all.
    """
    if key_term is not None:
        wanted = simple_name(key_term)
        if wanted in available:
            return wanted
        for name in available:  # unknown names keep their spelling (GBIF downloads lower-case "gbifid")
            if name.lower() == wanted.lower():
                return name
        raise SourceError(path, f"--key-term {wanted} is not in the data (terms: {', '.join(sorted(available))})")
    for name in DEFAULT_KEY_TERMS:
        if name in available:
            return name
    shown = ", ".join(sorted(available)[:12]) + (", ..." if len(available) > 12 else "")
    raise SourceError(path, f"no key term: the data has neither occurrenceID nor catalogNumber (columns: {shown}); "
                            "choose the column that identifies a specimen with --key-term (e.g. --key-term barcode)")


def build_specimen(*, key: str, key_term: str, terms: dict[str, str], media: Sequence[MediaRef],
                   resolver: MediaResolver, row: int | None, problems: Sequence[str] = ()) -> Specimen:
    """A Specimen with its files resolved; a missing key or image is recorded as a problem.

    Every problem starts with ``row N:`` so that it reads on its own, wherever it is shown.
    """
    found: list[str] = list(problems)
    key = key.strip()
    if not key:
        found.append(f"no key: {key_term} is empty (fill it in, or choose another column with --key-term)")
    files, missing = resolver.resolve(key, terms, media)
    prefix = "" if row is None else f"row {row}: "
    return Specimen(key=key, terms=terms, media=tuple(media), files=files,
                    problems=tuple(prefix + p for p in (*found, *missing)), row=row)
