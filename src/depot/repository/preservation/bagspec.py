"""What goes into a bag, as pure functions: names, tag-file text, bag-info labels, the AIP snapshot.

RFC 8493 (BagIt 1.0). The payload (``data/``) holds the record's files under their keys; ``metadata/``
is a tag directory with the public record JSON, DataCite XML and ``depot-aip.json``, the snapshot a
rebuild reads (ids, version chain, file checksums, communities). Depositor e-mail and IP address are
never written: they are personal data and an AIP outlives consent (standards.md §1, Zenodo's X-Agent-*).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import orjson

AIP_SCHEMA = "depot-aip/1"
ALGORITHMS = ("md5", "sha256")
BAGIT_TXT = "BagIt-Version: 1.0\nTag-File-Character-Encoding: UTF-8\n"
AIP_FILE = "metadata/depot-aip.json"
RECORD_FILE = "metadata/record.json"
DATACITE_FILE = "metadata/datacite.xml"


@dataclass(frozen=True)
class PayloadFile:
    key: str
    size: int
    md5: str
    sha256: str

    @property
    def path(self) -> str:
        return f"data/{self.key}"

    def digest(self, alg: str) -> str:
        return self.md5 if alg == "md5" else self.sha256


def encode_path(path: str) -> str:
    """A manifest path: CR, LF and ``%`` percent-encoded (RFC 8493 §2.1.3)."""
    return path.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def manifest_text(alg: str, entries: Iterable[tuple[str, str]]) -> str:
    """``<checksum> <path>`` lines for (checksum, path) pairs, sorted by path so equal bags are equal bytes."""
    return "".join(f"{digest}  {encode_path(path)}\n" for digest, path in sorted(entries, key=lambda e: e[1]))


def payload_manifest(alg: str, files: Iterable[PayloadFile]) -> str:
    return manifest_text(alg, ((f.digest(alg), f.path) for f in files))


def tag_manifest(alg: str, tag_files: dict[str, bytes]) -> str:
    """Checksums of every tag file except the tag manifests themselves (§2.2.1)."""
    return manifest_text(alg, ((hashlib.new(alg, body).hexdigest(), path) for path, body in tag_files.items()
                               if not path.startswith("tagmanifest-")))


def bag_info_text(info: list[tuple[str, str]]) -> str:
    """``Label: value`` lines; line breaks inside a value would start a bogus label, so they become spaces."""
    return "".join(f"{label}: {_one_line(value)}\n" for label, value in info)


def _one_line(value: str) -> str:
    return re.sub(r"[\r\n]+", " ", value).strip()


def bag_info(*, aip: dict[str, Any], source_organization: str, bagging_date: str, bagging_time: str,
             files: list[PayloadFile]) -> list[tuple[str, str]]:
    """bag-info.txt labels: RFC reserved ones first, then this repository's (``Depot-*``)."""
    rec = aip["record"]
    meta = rec["metadata"]
    info = [
        ("Source-Organization", source_organization),
        ("Bagging-Date", bagging_date),
        ("External-Identifier", f"doi:{rec['doi']}"),
        ("External-Description", str(meta.get("title", ""))),
        ("Bag-Group-Identifier", f"doi:{rec['concept_doi']}" if rec.get("concept_doi") else ""),
        ("Payload-Oxum", f"{sum(f.size for f in files)}.{len(files)}"),
        ("Bag-Size", human_size(sum(f.size for f in files))),
        ("Internal-Sender-Identifier", f"recid:{rec['id']}"),
        ("Depot-DOI", rec["doi"]),
        ("Depot-Concept-DOI", rec.get("concept_doi") or ""),
        ("Depot-Version-Index", str(rec["version_index"])),
        ("Depot-Version", str(meta.get("version", ""))),
        ("Depot-Publication-Date", str(meta.get("publication_date", ""))),
        ("Depot-Published", rec["published"] or ""),
        ("Depot-Bagging-Timestamp", bagging_time),
        ("Depot-AIP-Schema", AIP_SCHEMA),
    ]
    return [(label, value) for label, value in info if value]


def human_size(n: int) -> str:
    size = float(n)
    for unit in ("B", "KB", "MB", "GB"):
        if size < 1000:
            return f"{n} B" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1000
    return f"{size:.1f} TB"


def state_digest(aip: dict[str, Any]) -> str:
    """12 hex digits naming the published state (metadata, DOI, files, communities, withdrawal): a re-publish that
    changed nothing maps to the bag that already exists, and a missing bag is found by name."""
    rec = aip["record"]
    state = {"metadata": rec["metadata"], "doi": rec["doi"], "concept_doi": rec.get("concept_doi"),
             "files": [(f["key"], f["sha256"]) for f in aip["files"]],
             "communities": sorted((c["slug"], c["status"]) for c in aip["communities"])}
    if rec.get("withdrawn"):  # a withdrawal is a state of its own (absent otherwise: old digests stay valid)
        state["withdrawn"] = [rec["withdrawn"], rec.get("withdrawal_reason")]
    return hashlib.sha256(orjson.dumps(state, option=orjson.OPT_SORT_KEYS)).hexdigest()[:12]


def bag_stamp(published: str) -> str:
    return re.sub(r"[^0-9T]", "", published.split("+")[0])  # 2026-01-02T03:04:05.678901 -> 20260102T030405678901


def bag_name(published: str, digest: str) -> str:
    """``<UTC timestamp of the publish>_<state digest>``: names sort by time, so the newest bag is last."""
    return f"{bag_stamp(published)}_{digest}"


def digest_of_name(name: str) -> str | None:
    parts = name.split("_")
    return parts[1] if len(parts) == 2 and not name.startswith(".") else None


def aip_snapshot(*, record_row: dict[str, Any], files: list[dict[str, Any]],
                 communities: list[dict[str, Any]]) -> dict[str, Any]:
    """The JSON a rebuild reads; ``record_row`` holds the deposit's columns and the stored metadata."""
    return {"schema": AIP_SCHEMA, "record": record_row, "files": files, "communities": communities}


def payload_files(aip: dict[str, Any]) -> list[PayloadFile]:
    return [PayloadFile(f["key"], int(f["size"]), f["md5"], f["sha256"]) for f in aip["files"]]
