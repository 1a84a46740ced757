# Two commands (see README): `make demo` runs the main job, `make test` runs the test suite.
# Both create the virtual environment .venv on first use, with the pinned dependencies.

PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
# The PC2023 authors' files: a local copy for tests and CI (the product downloads them).
DATA_DIR ?= $(abspath ../shared/data/prieto-curiel-2023)

.PHONY: demo test lint bench clean

$(BIN)/cartelsim: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e ".[dev]"
	touch $@

demo: $(BIN)/cartelsim
	$(BIN)/cartelsim run mexico-2006-2012 --runs 1 --out results/mexico-2006-2012 --force

test: $(BIN)/cartelsim
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks
	CARTELSIM_DATA_DIR=$(DATA_DIR) $(BIN)/pytest

# The benchmarks of DESIGN.md section 7 (Mesa, for the agent comparison, is a bench-only extra).
# benchmarks/dashboard_load.py (20 browser sessions) is heavier and is run by hand.
bench: $(BIN)/cartelsim
	$(BIN)/pip install --quiet -e ".[dev,bench]"
	CARTELSIM_DATA_DIR=$(DATA_DIR) $(BIN)/python benchmarks/aggregate.py
	CARTELSIM_DATA_DIR=$(DATA_DIR) $(BIN)/python benchmarks/agents.py
	CARTELSIM_DATA_DIR=$(DATA_DIR) $(BIN)/python benchmarks/calibration.py
	CARTELSIM_DATA_DIR=$(DATA_DIR) $(BIN)/python benchmarks/invariants.py

clean:
	rm -rf $(VENV) results .pytest_cache .ruff_cache
