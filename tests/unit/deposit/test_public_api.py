"""depot.deposit's public names: every one in __all__ resolves, and nothing public is left out."""

from __future__ import annotations

import subprocess
import sys

import depot.deposit


def test_every_exported_name_resolves() -> None:
    for name in depot.deposit.__all__:
        assert getattr(depot.deposit, name) is not None, name
    assert depot.deposit.__all__ == sorted(depot.deposit.__all__)
    assert {"DepositJob", "JobSettings", "JobResult", "deposit", "Ledger", "State", "RepositoryClient"} <= set(
        depot.deposit.__all__)


def test_exported_objects_say_where_they_live() -> None:
    for name in depot.deposit.__all__:
        module = getattr(getattr(depot.deposit, name), "__module__", "")
        assert module.startswith("depot.deposit"), (name, module)


def test_an_unknown_name_is_an_attribute_error() -> None:
    try:
        depot.deposit.NoSuchThing  # type: ignore[attr-defined]  # noqa: B018
    except AttributeError as exc:
        assert "NoSuchThing" in str(exc)
    else:
        raise AssertionError("expected AttributeError")


def test_importing_the_package_stays_light() -> None:
    # The CLI imports depot.deposit.* for every command: the job's HTTP stack is loaded on first use only.
    code = "import sys, depot.deposit.errors; print('aiohttp' in sys.modules, 'sqlalchemy' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert out == ["False", "False"]


def test_an_image_checker_process_never_loads_the_database_layer() -> None:
    # Each checker process imports the pool's module to run its chunks: SQLAlchemy would add 150 ms to the
    # start of every one, which the run's first records wait for.
    code = "import sys, depot.deposit.images.pool; print('sqlalchemy' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert out == ["False"]
