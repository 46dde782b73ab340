# Two entry points for a fresh machine: `make demo` (the main job) and `make test` (the suite).
PYTHON ?= python3
# Test processes (pytest-xdist): the suite is mostly waiting on servers and disks, so two overlap well on 2 cores.
TEST_WORKERS ?= 2
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: setup demo test lint bench docs clean

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	$(BIN)/pip install --quiet --no-deps iiif-prezi3==3.1.1  # pins Pillow<=12 for helpers the tests never call
	touch $@

setup: $(VENV)/.installed

demo: setup
	$(BIN)/depot demo

lint: setup
	$(BIN)/ruff check src tests bench
	$(BIN)/mypy

test: lint
	$(BIN)/pytest -n $(TEST_WORKERS) --durations=25

bench: setup
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache demo-output

docs: setup
	$(BIN)/python -m depot.clidoc > docs/cli.md
