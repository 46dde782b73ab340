"""How a command's source options meet the ledger's (depot.deposit.source_options), without I/O."""

from __future__ import annotations

from pathlib import Path

import pytest

from depot.deposit.errors import ConfigError
from depot.deposit.source_options import REMEMBERED, normal, resolve

DEFAULTS = {name: None for name in REMEMBERED} | {
    "columns": (), "profile_vars": (), "recursive": False, "fetch_media": False, "profile_name": "specimen",
    "checksums": ()}


def on_command_line(*names: str) -> dict[str, str]:
    """Options given on the command line (no origin to name, as for an environment variable)."""
    return dict.fromkeys(names, "")


def values(**given: object) -> dict[str, object]:
    return {**DEFAULTS, "source": Path("a.zip"), "limit": None, **given}


def first(**given: object) -> dict[str, object]:
    resolved = resolve(values(**given), on_command_line(*given), None, sent=False, new_options=False)
    assert resolved.remember is not None and resolved.taken == [] and resolved.changed == []
    return resolved.remember


def test_a_new_ledger_remembers_every_option_with_paths_made_absolute(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    stored = first(images=Path("sheets"), profile_vars=("b=2", "a=1"), profile_name="mine.toml")
    assert stored["images"] == str(tmp_path / "sheets")
    assert stored["profile_name"] == str(tmp_path / "mine.toml")
    assert stored["profile_vars"] == ["a=1", "b=2"]
    assert set(stored) == set(REMEMBERED)  # the run-only options (--limit, --checkers, SOURCE) are not


def test_options_not_given_are_the_ledgers_and_said(tmp_path: Path) -> None:
    ledger = first(images=tmp_path, profile_name="herbarium", profile_vars=("institution=Meise",))
    resolved = resolve(values(limit=5), on_command_line("limit"), ledger, sent=True, new_options=False)
    assert resolved.options["images"] == tmp_path and resolved.options["profile_vars"] == ("institution=Meise",)
    assert resolved.options["limit"] == 5 and resolved.remember is None
    assert resolved.described() == f"--images {tmp_path} --profile herbarium --var institution=Meise"
    assert resolved.gone() is None
    moved = resolve(values(), {}, first(images=tmp_path / "gone"), sent=True, new_options=False)
    assert moved.gone() is not None and f"--images {tmp_path / 'gone'}" in moved.gone()  # type: ignore[operator]


def test_the_same_value_given_again_is_no_change(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    ledger = first(images=tmp_path / "sheets", profile_vars=("a=1", "b=2"))
    again = resolve(values(images=Path("sheets"), profile_vars=("b=2", "a=1")),
                    on_command_line("images", "profile_vars"), ledger, sent=True, new_options=False)
    assert again.changed == [] and again.remember is None and again.taken == []


def test_a_changed_option_is_refused_once_sent_unless_meant() -> None:
    ledger = first(profile_name="minimal", file_name="{catalogNumber}.jpg")
    given = values(profile_name="specimen", file_name="{catalogNumber}.jpg")
    with pytest.raises(ConfigError, match=r"--profile specimen differs from the ledger's --profile minimal\. "):
        resolve(given, on_command_line("profile_name"), ledger, sent=True, new_options=False)
    unsent = resolve(given, on_command_line("profile_name"), ledger, sent=False, new_options=False)
    meant = resolve(given, on_command_line("profile_name"), ledger, sent=True, new_options=True)
    for resolved in (unsent, meant):
        assert resolved.changed == ["--profile specimen differs from the ledger's --profile minimal"]
        assert resolved.remember == {**ledger, "profile_name": "specimen"}


def test_an_empty_text_given_is_the_default_and_a_flag_can_be_turned_off() -> None:
    ledger = first(path_template="{images}/{id}.jpg", recursive=True)
    reset = resolve(values(path_template="", recursive=False), on_command_line("path_template", "recursive"), ledger,
                    sent=True, new_options=True)
    assert reset.options["path_template"] is None and reset.options["recursive"] is False
    assert reset.changed == ["(no --path-template) differs from the ledger's --path-template {images}/{id}.jpg",
                             "--no-recursive differs from the ledger's --recursive"]


def test_a_ledger_from_before_an_option_was_remembered_takes_the_commands() -> None:
    older = {k: v for k, v in first(profile_name="minimal").items() if k != "file_name"}
    resolved = resolve(values(file_name="{catalogNumber}{ext}"), on_command_line("file_name"), older, sent=True,
                       new_options=False)
    assert resolved.changed == [] and resolved.options["file_name"] == "{catalogNumber}{ext}"
    assert resolved.remember is not None and resolved.remember["file_name"] == "{catalogNumber}{ext}"
    assert resolved.options["profile_name"] == "minimal"


def test_normal_forms() -> None:
    assert normal("columns", ("2=scientificName", "1=catalogNumber")) == ["1=catalogNumber", "2=scientificName"]
    assert normal("profile_name", "herbarium") == "herbarium"  # a shipped name stays a name
    assert normal("images", None) is None


def test_quotes_and_header_turned_off_are_shown_and_can_be_turned_back_on() -> None:
    from depot.deposit.source_options import described

    stored = first(quoted=False, header=False)
    assert described(stored) == "--no-header --no-quotes --profile specimen"
    again = resolve(values(quoted=True), on_command_line("quoted"), stored, sent=True, new_options=True)
    assert again.options["quoted"] is True and again.options["header"] is False  # the other one stays
    assert again.remember is not None and described(again.remember) == "--no-header --quotes --profile specimen"
    with pytest.raises(ConfigError, match="--quotes differs from the ledger's --no-quotes"):
        resolve(values(quoted=True), on_command_line("quoted"), stored, sent=True, new_options=False)


def test_checksum_files_are_remembered_as_absolute_paths_in_any_order(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    stored = first(checksums=(Path("b.sha256"), Path("a.md5")))
    assert stored["checksums"] == [str(tmp_path / "a.md5"), str(tmp_path / "b.sha256")]
    taken = resolve(values(), {}, stored, sent=True, new_options=False)
    assert taken.options["checksums"] == (tmp_path / "a.md5", tmp_path / "b.sha256") and taken.taken == ["checksums"]
    assert taken.gone() == (f"the ledger's --checksums {tmp_path / 'a.md5'} (remembered from an earlier run) is gone: "
                            "give --checksums with its new place and --new-options")
    (tmp_path / "a.md5").touch()
    (tmp_path / "b.sha256").touch()
    assert taken.gone() is None
