"""Zenodo deposit metadata rules shared by the repository and the depositor (interim core).

INTERIM: the full rule set (vocabularies, licence aliases, every save-time check) is being written in
this package's own modules; this file holds the core the server and depositor already rely on.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from typing import Any

__all__ = ["FieldError", "MetadataError", "check", "normalize", "publish_errors", "record_metadata"]


@dataclass(frozen=True)
class FieldError:
    field: str
    messages: tuple[str, ...]


class MetadataError(Exception):
    """Raised by ``normalize`` for errors current Zenodo reports at save time (create/PUT)."""

    def __init__(self, errors: list[FieldError], message: str = "A validation error occurred.") -> None:
        super().__init__(message)
        self.errors = errors
        self.message = message


UPLOAD_TYPES = {"publication": "Publication", "poster": "Poster", "presentation": "Presentation",
                "dataset": "Dataset", "image": "Image", "video": "Video/Audio", "software": "Software",
                "lesson": "Lesson", "physicalobject": "Physical object", "other": "Other", "workflow": "Workflow"}
IMAGE_TYPES = {"figure": "Figure", "plot": "Plot", "drawing": "Drawing", "diagram": "Diagram", "photo": "Photo",
               "other": "Other"}
PUBLICATION_TYPES = {t: t.title() for t in (
    "annotationcollection", "book", "section", "conferencepaper", "datamanagementplan", "article", "patent",
    "preprint", "deliverable", "milestone", "proposal", "report", "softwaredocumentation", "taxonomictreatment",
    "technicalnote", "thesis", "workingpaper", "other", "peerreview")}
ACCESS_RIGHTS = ("open", "embargoed", "restricted", "closed")
LICENSES = {"cc-by-4.0": "cc-by-4.0", "cc-by": "cc-by-4.0", "cc-zero": "cc-zero", "cc0-1.0": "cc-zero",
            "cc0": "cc-zero", "cc-by-sa-4.0": "cc-by-sa-4.0", "cc-by-sa": "cc-by-sa-4.0",
            "cc-by-nc-4.0": "cc-by-nc-4.0", "cc-by-nd-4.0": "cc-by-nd-4.0", "cc-by-nc-sa-4.0": "cc-by-nc-sa-4.0",
            "mit": "mit-license", "mit-license": "mit-license", "apache-2.0": "apache-2.0", "apache": "apache-2.0",
            "odc-by-1.0": "odc-by-1.0", "odbl-1.0": "odbl-1.0", "pddl-1.0": "pddl-1.0", "gpl-3.0": "gpl-3.0"}
RELATIONS = {r.lower(): r for r in (
    "isCitedBy", "cites", "isSupplementTo", "isSupplementedBy", "isContinuedBy", "continues", "isDescribedBy",
    "describes", "hasMetadata", "isMetadataFor", "isNewVersionOf", "isPreviousVersionOf", "isPartOf", "hasPart",
    "isReferencedBy", "references", "isDocumentedBy", "documents", "isCompiledBy", "compiles", "isVariantFormOf",
    "isOriginalFormOf", "isIdenticalTo", "isAlternateIdentifier", "isReviewedBy", "reviews", "isDerivedFrom",
    "isSourceOf", "requires", "isRequiredBy", "isObsoletedBy", "obsoletes", "isPublishedIn")}
# Every Creative Commons licence and version Zenodo's vocabulary has (SPDX ids, lower-cased), as the
# depositor's profiles emit them.
LICENSES.update({f"cc-{code}-{version}": f"cc-{code}-{version}"
                 for code in ("by", "by-sa", "by-nc", "by-nd", "by-nc-sa", "by-nc-nd")
                 for version in ("1.0", "2.0", "2.5", "3.0", "4.0")})
LICENSES.update({"cc-by-4.0": "cc-by-4.0", "bsd-3-clause": "bsd-3-clause", "bsd-2-clause": "bsd-2-clause",
                 "lgpl-3.0": "lgpl-3.0", "gpl-2.0": "gpl-2.0", "etalab-2.0": "etalab-2.0", "other-open": "other-open",
                 "other-at": "other-at", "other-pd": "other-pd", "other-closed": "other-closed"})
CUSTOM_NAMESPACES = ("dwc", "gbif-dwc", "gbif", "mixs", "ac", "openbiodiv", "obo", "dc")
KNOWN = {"upload_type", "publication_type", "image_type", "publication_date", "title", "creators", "description",
         "access_right", "license", "embargo_date", "access_conditions", "doi", "prereserve_doi", "keywords",
         "notes", "related_identifiers", "contributors", "references", "communities", "grants", "subjects",
         "version", "language", "locations", "dates", "method", "custom", "imprint_publisher", "imprint_isbn",
         "imprint_place", "journal_title", "journal_volume", "journal_issue", "journal_pages",
         "conference_title", "conference_acronym", "conference_dates", "conference_place", "conference_url",
         "conference_session", "conference_session_part", "partof_title", "partof_pages", "thesis_supervisors",
         "thesis_university"}
DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
ORCID = re.compile(r"^(\d{4})-?(\d{4})-?(\d{4})-?(\d{3}[\dX])$")
CONTRIBUTOR_TYPES = {t.lower(): t for t in (
    "ContactPerson", "DataCollector", "DataCurator", "DataManager", "Distributor", "Editor", "HostingInstitution",
    "Producer", "ProjectLeader", "ProjectManager", "ProjectMember", "RegistrationAgency", "RegistrationAuthority",
    "RelatedPerson", "Researcher", "ResearchGroup", "RightsHolder", "Supervisor", "Sponsor", "WorkPackageLeader",
    "Other")}
DATE_TYPES = ("Collected", "Valid", "Withdrawn")
PERSON_KEYS = ("name", "affiliation", "orcid", "gnd", "type")


def _orcid(raw: object) -> str | None:
    """The canonical ORCID iD (with its ISO 7064 11,2 check digit verified), or None if it is not one."""
    text = str(raw).strip().upper().removeprefix("HTTPS://ORCID.ORG/").removeprefix("HTTP://ORCID.ORG/")
    m = ORCID.match(text)
    if not m:
        return None
    digits = "".join(m.groups())
    total = 0
    for d in digits[:-1]:
        total = (total + int(d)) * 2
    check = (12 - total % 11) % 11
    return "-".join(m.groups()) if digits[-1] == ("X" if check == 10 else str(check)) else None


def _people(value: object, field: str, errors: list[FieldError], *, contributors: bool = False) -> object:
    if not isinstance(value, list):
        errors.append(FieldError(f"metadata.{field}", ("Not a valid list.",)))
        return value
    out = []
    for i, person in enumerate(value):
        if not isinstance(person, dict):
            errors.append(FieldError(f"metadata.{field}.{i}", ("Invalid input type.",)))
            continue
        entry = {k: v for k, v in person.items() if k in PERSON_KEYS}
        if not isinstance(entry.get("name"), str) or not entry["name"].strip():
            errors.append(FieldError(f"metadata.{field}.{i}.name", ("Name is required.",)))
        if entry.get("orcid"):
            orcid = _orcid(entry["orcid"])
            if orcid is None:
                errors.append(FieldError(f"metadata.{field}.{i}.orcid", ("Not a valid ORCID identifier.",)))
            else:
                entry["orcid"] = orcid
        if contributors:
            kind = str(entry.get("type", "")).lower()
            if kind not in CONTRIBUTOR_TYPES:
                errors.append(FieldError(f"metadata.{field}.{i}.type", ("Invalid contributor type.",)))
            else:
                entry["type"] = CONTRIBUTOR_TYPES[kind]
        out.append(entry)
    return out


def _check_dates(value: object, errors: list[FieldError]) -> None:
    if not isinstance(value, list):
        errors.append(FieldError("metadata.dates", ("Not a valid list.",)))
        return
    for i, item in enumerate(value):
        if not isinstance(item, dict) or not (item.get("start") or item.get("end")):
            errors.append(FieldError(f"metadata.dates.{i}", ("Invalid date provided.",)))
            continue
        for end in ("start", "end"):
            if item.get(end) and not _is_date(item[end]):
                errors.append(FieldError(f"metadata.dates.{i}.{end}", ("Not a valid date.",)))
        if _is_date(item.get("start")) and _is_date(item.get("end")) and item["start"] > item["end"]:
            errors.append(FieldError(f"metadata.dates.{i}", ("Start date must be before the end date.",)))
        if item.get("type") not in DATE_TYPES:
            errors.append(FieldError(f"metadata.dates.{i}.type", (f"Must be one of: {', '.join(DATE_TYPES)}.",)))


def _check_locations(value: object, errors: list[FieldError]) -> None:
    if not isinstance(value, list):
        errors.append(FieldError("metadata.locations", ("Not a valid list.",)))
        return
    for i, loc in enumerate(value):
        if not isinstance(loc, dict) or not isinstance(loc.get("place"), str) or not loc["place"].strip():
            errors.append(FieldError(f"metadata.locations.{i}.place", ("Missing data for required field.",)))
            continue
        lat, lon = loc.get("lat"), loc.get("lon")
        if (lat is None) != (lon is None):
            errors.append(FieldError(f"metadata.locations.{i}", ("Give both lat and lon, or neither.",)))
        for name, number, bound in (("lat", lat, 90), ("lon", lon, 180)):
            if number is not None and (not isinstance(number, int | float) or not -bound <= number <= bound):
                errors.append(FieldError(f"metadata.locations.{i}.{name}", (f"Must be between -{bound} and {bound}.",)))


def _check_list_of(value: object, field: str, required: tuple[str, ...], errors: list[FieldError]) -> None:
    if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
        errors.append(FieldError(f"metadata.{field}", ("Not a valid list of objects.",)))
        return
    for i, item in enumerate(value):
        for key in required:
            if not item.get(key):
                errors.append(FieldError(f"metadata.{field}.{i}.{key}", ("Missing data for required field.",)))


def _is_date(value: object) -> bool:
    if not isinstance(value, str) or not DATE.match(value):
        return False
    try:
        date.fromisoformat(value)
    except ValueError:
        return False
    return True


def normalize(metadata: object, *, today: date) -> dict[str, Any]:
    """Current Zenodo's save-time deserializer: defaults, canonical values, unknown keys dropped."""
    if not isinstance(metadata, dict):
        raise MetadataError([FieldError("metadata", ("Invalid input type.",))])
    errors: list[FieldError] = []
    out = {k: v for k, v in metadata.items() if k in KNOWN}
    out.setdefault("publication_date", today.isoformat())
    if not _is_date(out["publication_date"]):
        errors.append(FieldError("metadata.publication_date", ("Not a valid date.",)))
    out.setdefault("access_right", "open")
    if out["access_right"] not in ACCESS_RIGHTS:
        errors.append(FieldError("metadata.access_right", (f"Must be one of: {', '.join(ACCESS_RIGHTS)}.",)))
    elif out["access_right"] == "closed":
        out["access_right"] = "restricted"  # current Zenodo does not keep "closed"
    lic = out.get("license")
    if isinstance(lic, dict):
        lic = lic.get("id")
    if lic is None:
        if out["access_right"] in ("open", "embargoed"):
            out["license"] = "cc-zero" if out.get("upload_type") == "dataset" else "cc-by-4.0"
    elif not isinstance(lic, str):
        errors.append(FieldError("metadata.license", (
            f"Invalid license value provided (expected string, or object with 'id' key): {lic!r}",)))
    elif lic.lower() not in LICENSES:
        errors.append(FieldError("metadata.license", (f"Invalid license provided: {lic}",)))
    else:
        out["license"] = LICENSES[lic.lower()]
    if "upload_type" in out and out["upload_type"] not in UPLOAD_TYPES:
        errors.append(FieldError("metadata.upload_type", (f"Invalid value {out['upload_type']}.",)))
    if "communities" in out and (not isinstance(out["communities"], list) or not all(
            isinstance(c, dict) and isinstance(c.get("identifier"), str) for c in out["communities"])):
        errors.append(FieldError("communities", ("Communities must be a list of {\"identifier\": ...} objects.",)))
    rels = out.get("related_identifiers")
    if rels is not None:
        if not isinstance(rels, list):
            errors.append(FieldError("metadata.related_identifiers", ("related_identifiers must be a list",)))
        else:
            for i, rel in enumerate(rels):
                # The messages of zenodo-rdm (its legacy test_rest_api_metadata.py, test_malformed_related_identifiers).
                if not isinstance(rel, dict):
                    errors.append(FieldError(f"metadata.related_identifiers.{i}",
                                             ("Each related identifier must be an object",)))
                    continue
                rel_name = rel.get("relation")
                if rel_name is not None and not isinstance(rel_name, str):
                    errors.append(FieldError(f"metadata.related_identifiers.{i}.relation",
                                             ("relation must be a string",)))
                elif not isinstance(rel_name, str) or rel_name.lower() not in RELATIONS:
                    errors.append(FieldError(f"metadata.related_identifiers.{i}.relation",
                                             (f"Invalid value {rel_name}.",)))
                else:
                    rel["relation"] = RELATIONS[rel_name.lower()]
    if "keywords" in out:
        if not isinstance(out["keywords"], list) or not all(isinstance(k, str) for k in out["keywords"]):
            errors.append(FieldError("metadata.keywords", ("Keywords must be a list of strings.",)))
        else:
            out["keywords"] = [k for k in out["keywords"] if k.strip()]
    for field in ("creators", "contributors", "thesis_supervisors"):
        if field in out:
            out[field] = _people(out[field], field, errors, contributors=field == "contributors")
    if "dates" in out:
        _check_dates(out["dates"], errors)
    if "locations" in out:
        _check_locations(out["locations"], errors)
    if "grants" in out:
        _check_list_of(out["grants"], "grants", ("id",), errors)
    if "subjects" in out:
        _check_list_of(out["subjects"], "subjects", ("term", "identifier"), errors)
    for field in ("title", "description", "notes", "method", "version", "access_conditions", "imprint_publisher"):
        if field in out and not isinstance(out[field], str):
            errors.append(FieldError(f"metadata.{field}", ("Not a valid string.",)))
    if out.get("access_right") == "embargoed" and out.get("embargo_date") is not None:
        if not _is_date(out["embargo_date"]):
            errors.append(FieldError("metadata.embargo_date", ("Not a valid date.",)))
        elif out["embargo_date"] <= today.isoformat():
            errors.append(FieldError("metadata.embargo_date", ("Embargo date must be in the future.",)))
    lang = out.get("language")
    if isinstance(lang, str) and len(lang) not in (2, 3):
        errors.append(FieldError("metadata.language", ("Language must be either ISO-639-1 or 639-2 compatible.",)))
    custom = out.get("custom")
    if custom is not None:
        if not isinstance(custom, dict):
            errors.append(FieldError("metadata.custom", ("Custom metadata must be an object.",)))
        else:
            for term, values in custom.items():
                if term.split(":", 1)[0] not in CUSTOM_NAMESPACES or ":" not in term:
                    errors.append(FieldError(f"metadata.custom.{term}",
                                             (f'Zenodo does not support "{term}" as a custom metadata term.',)))
                elif not isinstance(values, list):
                    errors.append(FieldError(f"metadata.custom.{term}", (f'Term "{term}" should be of type array.',)))
    if errors:
        raise MetadataError(errors)
    return out


def publish_errors(metadata: dict[str, Any], *, file_count: int) -> list[FieldError]:
    """Current Zenodo's publish-time validation, with RDM field paths; every error at once."""
    errors: list[FieldError] = []
    required = ("Missing data for required field.",)
    title = metadata.get("title")
    if not title:
        errors.append(FieldError("metadata.title", required))
    elif not isinstance(title, str) or len(title.strip()) < 3:
        errors.append(FieldError("metadata.title", ("Shorter than minimum length 3.",)))
    creators = metadata.get("creators")
    if not creators:
        errors.append(FieldError("metadata.creators", required))
    else:
        for i, person in enumerate(creators):
            if not isinstance(person, dict) or not str(person.get("name") or "").strip():
                errors.append(FieldError(f"metadata.creators.{i}.person_or_org.name", ("Name is required.",)))
    upload_type = metadata.get("upload_type")
    if not upload_type:
        errors.append(FieldError("metadata.resource_type", required))
    elif (upload_type == "image" and metadata.get("image_type") not in IMAGE_TYPES) or (
            upload_type == "publication" and metadata.get("publication_type") not in PUBLICATION_TYPES):
        errors.append(FieldError("metadata.resource_type", ("Invalid upload, publication or image type.",)))
    if not metadata.get("publication_date"):
        errors.append(FieldError("metadata.publication_date", required))
    if metadata.get("access_right") == "embargoed" and not metadata.get("embargo_date"):
        errors.append(FieldError("access.embargo", ("Required when access right is embargoed.",)))
    if file_count < 1:
        errors.append(FieldError("files.enabled", (
            "Missing uploaded files. To disable files for this record please mark it as metadata-only.",)))
    return errors


def check(metadata: object, *, today: date, file_count: int) -> list[FieldError]:
    """What the depositor runs locally: the save-time and publish-time rules together."""
    try:
        normalized = normalize(metadata, today=today)
    except MetadataError as exc:
        return list(exc.errors)
    return publish_errors(normalized, file_count=file_count)


def record_metadata(metadata: dict[str, Any], *, doi: str | None, concept_recid: str, version_index: int,
                    is_last: bool) -> dict[str, Any]:
    """The ``metadata`` object of current Zenodo's records JSON."""
    out = {k: v for k, v in metadata.items() if k != "prereserve_doi"}
    if doi:
        out["doi"] = doi
    if isinstance(out.get("license"), str):
        out["license"] = {"id": out["license"]}
    upload_type = out.get("upload_type")
    if upload_type:
        rtype: dict[str, str] = {"type": upload_type, "title": UPLOAD_TYPES.get(upload_type, upload_type)}
        sub = out.get("image_type") if upload_type == "image" else out.get("publication_type")
        if sub:
            rtype["subtype"] = sub
            rtype["title"] = (IMAGE_TYPES if upload_type == "image" else PUBLICATION_TYPES).get(sub, sub)
        out["resource_type"] = rtype
    out["relations"] = {"version": [{"index": version_index, "is_last": is_last,
                                     "parent": {"pid_type": "recid", "pid_value": concept_recid}}]}
    return out
