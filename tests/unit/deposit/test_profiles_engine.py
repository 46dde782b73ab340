"""Profile files: schema checks at load time, template rules at apply time, and the filters."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from depot.deposit.models import FileSpec, MediaRef, Specimen
from depot.deposit.profiles import ProfileError, load_profile, zenodo_license_id
from depot.deposit.profiles.filters import date_end, date_start, identifier_scheme, iso_date, language_code

HEAD = '[profile]\nrequired = ["title"]\n'
SPECIMEN = Specimen(key="urn:catalog:X:1", terms={"catalogNumber": "1", "scientificName": "Poa annua",
                                                  "family": "Poaceae", "locality": "Rock <north>"})


def profile_file(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "p.toml"
    path.write_text(text, encoding="utf-8")
    return path


def apply(tmp_path: Path, metadata: str, specimen: Specimen = SPECIMEN, head: str = HEAD) -> tuple[dict, tuple]:
    record = load_profile(profile_file(tmp_path, head + "[metadata]\n" + metadata)).apply(specimen)
    return record.metadata, record.problems


def test_missing_terms_drop_optional_fields_and_items(tmp_path: Path) -> None:
    meta, problems = apply(tmp_path, '''
title = "{{ scientificName }}"
language = "{{ language }}"
keywords = ["herbarium", "{{ family }}", "{{ genus }}", "herbarium"]
notes = "{% if genus %}genus {{ genus }}{% endif %}"
[[metadata.related_identifiers]]
identifier = "{{ cetaf_id }}"
relation = "isAlternateIdentifier"
[[metadata.related_identifiers]]
identifier = "{{ key }}"
relation = "isAlternateIdentifier"
scheme = "{{ key | identifier_scheme }}"
''')
    assert problems == ()
    assert meta == {"title": "Poa annua", "keywords": ["herbarium", "Poaceae"], "related_identifiers": [
        {"identifier": "urn:catalog:X:1", "relation": "isAlternateIdentifier", "scheme": "urn"}]}


def test_required_field_missing_a_term_is_a_problem(tmp_path: Path) -> None:
    meta, problems = apply(tmp_path, 'title = "{{ scientificName }} ({{ recordNumber }})"\nupload_type = "image"\n')
    assert problems == ("title: needs term 'recordNumber', which this specimen does not have",)
    assert meta == {"upload_type": "image"}


def test_template_errors_are_problems_not_exceptions(tmp_path: Path) -> None:
    specimen = Specimen(key="k", terms={"scientificName": "x y", "license": "All rights reserved"},
                        problems=("image not found: /a/k.jpg",))
    meta, problems = apply(tmp_path, '''
title = "{{ scientificName }}"
license = "{{ license | zenodo_license }}"
description = "{{ key.__class__ }}"
version = "{{ 1 // 0 }}"
''', specimen)
    assert meta == {"title": "x y"}
    assert problems[0] == "image not found: /a/k.jpg"  # the specimen's own problems come first
    assert problems[1] == ("metadata.license: ValueError: unrecognised licence 'All rights reserved': give a licence "
                           "URL or a Zenodo id such as cc-by-4.0")
    assert problems[2].startswith("metadata.description: SecurityError: access to attribute '__class__'")
    assert problems[3] == "metadata.version: ZeroDivisionError: integer division or modulo by zero"


def test_when_for_each_expr_and_html_escaping(tmp_path: Path) -> None:
    head = HEAD + '[vars]\nextra = ["a", "b"]\ncommunity = ""\n'
    specimen = Specimen(key="k", terms={"scientificName": "Poa", "decimalLatitude": "50.5", "locality": "Rock <north>",
                                        "recordedBy": "A & B"}, files=(FileSpec(path="/x/k.TIF", name="k.TIF"),))
    meta, problems = apply(tmp_path, '''
title = "{{ scientificName }} & co"
description = """Found at {{ locality }} by {{ recordedBy }}\
{% if files | selectattr('extension', 'equalto', 'tif') | list %}, TIFF{% endif %}"""
keywords = [{ for_each = "vars.extra", as = "word", value = "kw-{{ word }}", when = "word != 'b'" }, { expr = "1.5" }]
communities = [{ when = "vars.community", identifier = "{{ vars.community }}" }]
custom = { "dwc:decimalLatitude" = [{ expr = "decimalLatitude | number" }], "dwc:genus" = ["{{ genus }}"] }
''', specimen, head)
    assert problems == ()
    assert meta["title"] == "Poa & co"  # plain-text fields are not escaped
    assert meta["description"] == "Found at Rock &lt;north&gt; by A &amp; B, TIFF"
    assert meta["keywords"] == ["kw-a", 1.5]
    assert meta["custom"] == {"dwc:decimalLatitude": [50.5]}
    assert "communities" not in meta


def test_vars_override(tmp_path: Path) -> None:
    path = profile_file(tmp_path, HEAD + '[vars]\nname = "A"\nlist = ["x"]\nflag = false\ncount = 1\n'
                                         '[metadata]\ntitle = "{{ vars.name }} {{ vars.list | join(\'+\') }} '
                                         '{{ vars.flag }} {{ vars.count + 1 }}"\n')
    profile = load_profile(path, {"name": "B", "list": "p, q", "flag": "yes", "count": "41"})
    assert profile.apply(SPECIMEN).metadata["title"] == "B p+q True 42"
    assert load_profile(path).variables == {"name": "A", "list": ["x"], "flag": False, "count": 1}
    with pytest.raises(ProfileError, match=r"no variable 'institution' \(variables: count, flag, list, name\)"):
        load_profile(path, {"institution": "x"})
    with pytest.raises(ProfileError, match=r"bad value for variable 'count'"):
        load_profile(path, {"count": "many"})


def test_jsonld_sidecar_and_its_name(tmp_path: Path) -> None:
    specimen = Specimen(key="urn:catalog:TROM:A:1", terms={"catalogNumber": "1", "scientificName": "Poa",
                                                           "Notes": "boxed"},
                        media=(MediaRef(uri="https://h/i?id=1", format="image/jpeg", license="CC BY-SA 4.0"),),
                        files=(FileSpec(path="/x/1.json", name="1.json"),))
    head = '[profile]\nrequired = ["title"]\nsidecar = "jsonld"\nsidecar_name = "{{ catalogNumber }}.json"\n'
    record = load_profile(profile_file(tmp_path, head + '[metadata]\ntitle = "{{ scientificName }}"\n')).apply(specimen)
    ((name, content),) = record.sidecars
    assert name == "1.json"
    assert record.problems == ("sidecar 1.json has the same name as an image file",)
    graph = json.loads(content)["@graph"]
    assert graph[0]["@id"] == "urn:catalog:TROM:A:1" and graph[0]["dwc:scientificName"] == "Poa"
    assert graph[0]["Notes"] == "boxed"  # a column outside Darwin Core is kept under its own name
    assert graph[1] == {"dcterms:identifier": "https://h/i?id=1", "dcterms:type": "StillImage",
                        "dcterms:format": "image/jpeg", "dcterms:license": "CC BY-SA 4.0", "@type": "gbif:Multimedia"}
    default = load_profile(profile_file(tmp_path, '[profile]\nsidecar = "jsonld"\nrequired = []\n[metadata]\n'
                                                  'title = "t"\n')).apply(specimen)
    assert default.sidecars[0][0] == "urn_catalog_TROM_A_1.json"


@pytest.mark.parametrize(("text", "message", "key", "line"), [
    ('[profile]\nname = "x"\n[metadata\n', r"not valid TOML", None, 3),
    ('[metadata]\ntitle = "t"\n[extras]\n', r"unknown section\(s\) extras", "extras", 3),
    ('[metadata]\ntitle = "t"\nkeyword = ["a"]\n', r"not a field of Zenodo's deposit metadata", "metadata.keyword", 3),
    ('[metadata]\ntitle = "t"\n\nkeywords = ["{{ famly }}"]\n', r"unknown name 'famly': not a Darwin Core term",
     "metadata.keywords[0]", 4),
    ('[metadata]\ntitle = "{{ vars.institution }}"\n', r"vars.institution is not declared in \[vars\]",
     "metadata.title", 2),
    ('[metadata]\ntitle = "{{ scientificName }"\n', r"template syntax error", "metadata.title", 2),
    ('[metadata]\ntitle = { for_each = "terms", value = "x" }\n', r"for_each repeats a list item", "metadata.title",
     None),
    ('[profile]\nrequired = ["creators"]\n[metadata]\ntitle = "t"\n', r"required field 'creators' is not in",
     "profile.required", None),
    ('[profile]\nsidecar = "xml"\n[metadata]\ntitle = "t"\n', r"the only sidecar is \"jsonld\"", "profile.sidecar",
     2),
    ('[profile]\nname = "x"\n', r"\[metadata\] is missing", "metadata", None),
    ('[profile]\nrequire = ["title"]\n[metadata]\ntitle = "t"\n', r"unknown key", "profile.require", 2),
])
def test_broken_profiles_raise_profile_error_with_file_and_place(tmp_path: Path, text: str, message: str,
                                                                 key: str | None, line: int | None) -> None:
    path = profile_file(tmp_path, text)
    with pytest.raises(ProfileError, match=message) as caught:
        load_profile(path)
    assert caught.value.path == str(path)
    assert caught.value.key == key
    if line is not None:
        assert caught.value.line == line
        assert str(caught.value).startswith(f"{path}:{line}")


def test_extra_terms_and_unknown_profile_names(tmp_path: Path) -> None:
    path = profile_file(tmp_path, '[profile]\nextra_terms = ["Barcode"]\nrequired = []\n'
                                  '[metadata]\ntitle = "{{ Barcode }}"\n')
    assert load_profile(path).apply(Specimen(key="k", terms={"Barcode": "B7"})).metadata == {"title": "B7"}
    with pytest.raises(ProfileError, match=r"no shipped profile 'icedig'.*icedig-benchmark, meise-belgium-herbarium"):
        load_profile("icedig")
    with pytest.raises(ProfileError, match=r"no such profile file"):
        load_profile(tmp_path / "absent.toml")


@pytest.mark.parametrize(("given", "expected"), [
    ("http://creativecommons.org/licenses/by/4.0/legalcode", "cc-by-4.0"),
    ("https://creativecommons.org/licenses/by-nc-sa/3.0/", "cc-by-nc-sa-3.0"),
    ("http://creativecommons.org/publicdomain/zero/1.0/legalcode", "cc0-1.0"),
    ("CC0 1.0", "cc0-1.0"), ("CC0_1_0", "cc0-1.0"), ("cc-zero", "cc0-1.0"),
    ("CC-BY-4.0", "cc-by-4.0"), ("CC BY 4.0", "cc-by-4.0"), ("CC_BY_NC_4_0", "cc-by-nc-4.0"), ("cc-by", "cc-by-4.0"),
    ("MIT", "mit"),
])
def test_licence_ids(given: str, expected: str) -> None:
    assert zenodo_license_id(given) == expected


@pytest.mark.parametrize("given", ["All rights reserved", "https://creativecommons.org/publicdomain/mark/1.0/", ""])
def test_unknown_licences_are_errors(given: str) -> None:
    with pytest.raises(ValueError):
        zenodo_license_id(given)


@pytest.mark.parametrize(("value", "start", "end", "day"), [
    ("1985-05-15", "1985-05-15", "1985-05-15", "1985-05-15"),
    ("2002-1-1", "2002-01-01", "2002-01-01", "2002-01-01"),
    ("1985-05", "1985-05-01", "1985-05-31", None),
    ("1984-02", "1984-02-01", "1984-02-29", None),
    ("1959", "1959-01-01", "1959-12-31", None),
    ("1985-05-15T10:30:00Z", "1985-05-15", "1985-05-15", "1985-05-15"),
    ("1985-05-15/1985-06", "1985-05-15", "1985-06-30", None),
    ("1985-13-01", None, None, None),
    ("1990/1980", None, None, None),
    ("spring 1985", None, None, None),
])
def test_dates(value: str, start: str | None, end: str | None, day: str | None) -> None:
    assert (date_start(value), date_end(value), iso_date(value)) == (start, end, day)


def test_small_filters() -> None:
    assert [identifier_scheme(v) for v in ("https://x", "urn:lsid:x:y", "urn:catalog:A", "10.5281/zenodo.1",
                                           "ark:/1/2", "BR0001")] == ["url", "lsid", "urn", "doi", "ark", "other"]
    assert [language_code(v) for v in ("fra", "EN", "French")] == ["fra", "en", None]


def test_complete_examples_in_the_docs_load_and_apply(tmp_path: Path) -> None:
    docs = Path(__file__).resolve().parents[3] / "docs" / "profiles.md"
    blocks = [b.split("```", 1)[0] for b in docs.read_text(encoding="utf-8").split("```toml\n")[1:]]
    complete = [b for b in blocks if b.startswith("[profile]") and "..." not in b]
    assert complete, "docs/profiles.md has no complete profile example"
    for block in complete:
        profile = load_profile(profile_file(tmp_path, block))
        record = profile.apply(Specimen(key="B7", terms={"catalogNumber": "B7", "recordedBy": "A & B"}))
        assert record.problems == ()
        assert record.metadata["title"] == "Unidentified specimen (B7)"
        assert record.metadata["description"] == "Herbarium sheet B7, collected by A &amp; B."
