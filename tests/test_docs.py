"""Docs stay true: the CLI reference is current, every setting and error class and exit code is documented."""

from __future__ import annotations

import inspect

from depot.clidoc import render
from depot.deposit import errors as deposit_errors
from depot.repository import errors as repository_errors
from depot.repository.config import SETTINGS

from conftest import REPO_ROOT

DOCS = REPO_ROOT / "docs"


def test_cli_reference_is_current() -> None:
    assert (DOCS / "cli.md").read_text(encoding="utf-8") == render(), \
        "docs/cli.md is stale: run `python -m depot.clidoc > docs/cli.md`"


def test_every_repository_setting_is_documented() -> None:
    text = (DOCS / "settings.md").read_text(encoding="utf-8")
    for setting in SETTINGS:
        assert f"`{setting.name}`" in text, setting.name


def test_every_error_class_and_exit_code_is_documented() -> None:
    text = (DOCS / "errors.md").read_text(encoding="utf-8")
    pairs = ((deposit_errors, deposit_errors.DepotError), (repository_errors, repository_errors.RepositoryError))
    for module, base in pairs:
        for name, cls in inspect.getmembers(module, inspect.isclass):
            if issubclass(cls, base) and cls is not base and cls.__module__ == module.__name__:
                assert f"`{name}`" in text, name
                assert cls.__doc__ and "raised" in cls.__doc__.lower(), name
    for code in deposit_errors.ExitCode:
        assert f"`{code.name}`" in text, code.name


def test_readme_first_screen_gives_two_commands() -> None:
    first_screen = (REPO_ROOT / "README.md").read_text(encoding="utf-8").splitlines()[:24]
    commands = [line for line in first_screen if line.startswith("make ")]
    assert [c.split()[:2] for c in commands] == [["make", "demo"], ["make", "test"]]
