"""Settings from DEPOT_* variables and a config file, -v/-q, and the `depot profiles` command."""

from __future__ import annotations

import json
import logging
import re
from datetime import UTC, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner

from depot.cli import main
from depot.clidoc import render
from depot.deposit.ledger import Ledger
from depot.deposit.ledger.tables import specimens
from depot.deposit.profiles import list_profiles


def ledger_with(path: Path, keys: int) -> str:
    """A ledger holding ``keys`` planned specimens, so commands reading it answer something checkable."""
    ledger = Ledger.open(str(path))
    now = datetime.now(UTC).isoformat()
    with ledger.engine.begin() as conn:
        conn.execute(specimens.insert(), [
            {"key": f"urn:catalog:T:{i}", "seq": i + 1, "state": "planned", "metadata": {}, "metadata_hash": "x",
             "fingerprint": "x", "created_at": now, "updated_at": now} for i in range(keys)])
    ledger.close()
    return str(path)


def status(runner: CliRunner, *args: str, env: dict[str, str] | None = None) -> dict[str, int]:
    result = runner.invoke(main, [*args, "status", "--json"] if "status" not in args else list(args), env=env)
    assert result.exit_code == 0, result.output
    return dict(json.loads(result.stdout)["states"])


@pytest.fixture
def runner(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    monkeypatch.chdir(tmp_path)
    for name in ("DEPOT_LEDGER", "DEPOT_CONFIG", "DEPOT_JSON"):
        monkeypatch.delenv(name, raising=False)
    return CliRunner()


def test_depot_ledger_environment_variable_is_used(runner: CliRunner, tmp_path: Path) -> None:
    path = ledger_with(tmp_path / "elsewhere.sqlite3", 3)
    assert status(runner, env={"DEPOT_LEDGER": path}) == {"planned": 3}
    assert not (tmp_path / "depot-ledger.sqlite3").exists()


def test_config_file_sections_and_precedence(runner: CliRunner, tmp_path: Path) -> None:
    a, b, c = (ledger_with(tmp_path / f"{n}.sqlite3", k) for n, k in (("a", 1), ("b", 2), ("c", 3)))
    config = tmp_path / "settings.toml"
    config.write_text(f'ledger = "{a}"\n\n[status]\njson = true\n', encoding="utf-8")
    # A top-level key applies to every command with that option; a section to its command.
    result = runner.invoke(main, ["--config", str(config), "status"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["states"] == {"planned": 1}
    config.write_text(f'ledger = "{a}"\n\n[status]\nledger = "{b}"\n', encoding="utf-8")
    assert status(runner, "--config", str(config)) == {"planned": 2}  # the section beats the top level
    assert status(runner, "--config", str(config), env={"DEPOT_LEDGER": c}) == {"planned": 3}  # env beats file
    assert status(runner, "--config", str(config), "status", "--json", "--ledger", a,
                  env={"DEPOT_LEDGER": c}) == {"planned": 1}  # the command line beats all
    assert status(runner, env={"DEPOT_CONFIG": str(config)}) == {"planned": 2}
    (tmp_path / "depot.toml").write_text(f'[status]\nledger = "{c}"\n', encoding="utf-8")
    assert status(runner) == {"planned": 3}  # ./depot.toml when present


@pytest.mark.parametrize(("text", "message"), [
    ('[status]\nledgr = "x"\n', "[status] has no option 'ledgr'"),
    ('[stats]\nledger = "x"\n', "no command 'stats'"),
    ('colour = "red"\n', "no command has an option 'colour'"),
    ('[run]\ntoken = "abc"\n', "the token is read only from DEPOT_TOKEN or --token-file"),
    ("[run\n", "not valid TOML"),
    ('[run]\ntransfers = "many"\n', "[run] transfers = 'many': 'many' is not a valid integer range"),
    ('ledger = ["a", "b"]\n', "ledger: expects one value, not a list"),
    ('[run]\nvar = "institution=X"\n', "[run] var: expects a list"),
    ('[status]\njson = "perhaps"\n', "[status] json = 'perhaps'"),
])
def test_bad_config_files_get_one_clear_message(runner: CliRunner, tmp_path: Path, text: str, message: str) -> None:
    config = tmp_path / "bad.toml"
    config.write_text(text, encoding="utf-8")
    result = runner.invoke(main, ["--config", str(config), "status"])
    assert result.exit_code == 2 and message in result.stderr and str(config) in result.stderr
    assert "Traceback" not in result.output


def test_missing_config_file(runner: CliRunner, tmp_path: Path) -> None:
    result = runner.invoke(main, ["--config", str(tmp_path / "nope.toml"), "status"])
    assert result.exit_code == 2 and "does not exist" in result.stderr


def test_every_depositor_option_shows_its_environment_variable() -> None:
    for command in ("run", "sync", "check", "status", "report", "verify", "reconcile"):
        text = CliRunner().invoke(main, [command, "--help"]).output
        for flag in re.findall(r"^  (?:-\w, )?--([a-z-]+)", text, flags=re.M):
            if flag != "help":
                assert f"DEPOT_{flag.replace('-', '_').upper()}" in text, (command, flag)


def test_the_token_is_no_option(runner: CliRunner) -> None:
    assert "DEPOT_TOKEN]" not in CliRunner().invoke(main, ["run", "--help"]).output


def test_quiet_and_verbose_are_global(runner: CliRunner, tmp_path: Path) -> None:
    path = ledger_with(tmp_path / "l.sqlite3", 1)
    cases = ((["-q"], logging.ERROR, logging.ERROR), ([], logging.WARNING, logging.WARNING),
             (["-v"], logging.INFO, logging.WARNING), (["-vv"], logging.DEBUG, logging.DEBUG))
    for flags, ours, theirs in cases:
        result = runner.invoke(main, [*flags, "status", "--ledger", path])
        assert result.exit_code == 0, result.output
        assert logging.getLogger("depot.deposit.runner").getEffectiveLevel() == ours
        assert logging.getLogger("alembic").getEffectiveLevel() == theirs  # -v is not the libraries' chatter
    logging.getLogger().setLevel(logging.WARNING)
    logging.getLogger("depot").setLevel(logging.NOTSET)


def test_profiles_list_and_show(runner: CliRunner) -> None:
    listing = runner.invoke(main, ["profiles", "list"])
    assert listing.exit_code == 0 and runner.invoke(main, ["profiles"]).stdout == listing.stdout
    names = [line.split()[0] for line in listing.stdout.splitlines()]
    assert names == list_profiles() and "specimen" in names
    assert all(len(line.split(maxsplit=1)) == 2 for line in listing.stdout.splitlines())  # each has a description
    shown = runner.invoke(main, ["profiles", "show", "minimal"])
    assert shown.exit_code == 0 and 'name = "minimal"' in shown.stdout and "[metadata" in shown.stdout


@pytest.mark.parametrize("name", ["specimenn", "../etc/passwd", "my.toml", ""])
def test_profiles_show_unknown_name(runner: CliRunner, name: str) -> None:
    result = runner.invoke(main, ["profiles", "show", name])
    assert result.exit_code == 2 and "no shipped profile" in result.stderr and "specimen" in result.stderr
    assert "Traceback" not in result.output


def test_every_command_the_help_mentions_exists() -> None:
    """--help said "a shipped name (depot profiles)" when there was no such command."""
    commands = set(main.commands)
    mentioned = set(re.findall(r"\bdepot ([a-z][a-z-]+)\b", render().replace("\n", " ")))
    assert mentioned and mentioned <= commands, mentioned - commands
