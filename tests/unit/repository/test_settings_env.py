"""Every repository setting can be given as DEPOT_<NAME>; a flag wins over its variable, and a variable over
a default that `depot serve` computes (the base URL from --host and --port)."""

from __future__ import annotations

from pathlib import Path

import pytest

from depot.repository.config import SETTINGS, from_env

SAMPLES: dict[type, tuple[str, object]] = {bool: ("0", False), int: ("7", 7), float: ("2.5", 2.5)}


def test_every_setting_is_read_from_its_variable() -> None:
    for setting in SETTINGS:
        raw, expected = SAMPLES.get(type(setting.default), ("/srv/depot-value", "/srv/depot-value"))
        if setting.default is True:
            raw, expected = "0", False
        elif setting.default is False:
            raw, expected = "1", True
        config = from_env({f"DEPOT_{setting.name.upper()}": raw})
        value = getattr(config, setting.name)
        assert (str(value) if isinstance(value, Path) else value) == expected, setting.name


def test_base_url_flag_then_variable_then_host_and_port() -> None:
    default = {"base_url": "http://0.0.0.0:8080"}
    env = {"DEPOT_BASE_URL": "https://depot.example.org"}
    assert from_env(env, defaults=default).base_url == "https://depot.example.org"
    assert from_env(env, defaults=default, base_url="https://flag.example.org").base_url == "https://flag.example.org"
    assert from_env({}, defaults=default).base_url == "http://0.0.0.0:8080"
    assert from_env({}).base_url == "http://127.0.0.1:5000"


@pytest.mark.parametrize("raw", ["-1", "65", "abc"])
def test_a_bag_process_count_out_of_range_is_refused_by_name(raw: str) -> None:
    with pytest.raises(ValueError, match="DEPOT_BAG_PROCESSES"):
        from_env({"DEPOT_BAG_PROCESSES": raw})
