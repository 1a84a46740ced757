# Two commands (see README): `make demo` runs the main job, `make test` runs the test suite.
# Both create the virtual environment .venv on first use, with the pinned dependencies.

PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
# The PC2023 authors' files ship with the package (src/cartelsim/data/pc2023/). A folder of
# your own is used instead when you set CARTELSIM_DATA_DIR (passed through untouched) or
# give `make test DATA_DIR=...` (sets CARTELSIM_DATA_DIR).
ifeq ($(origin DATA_DIR),command line)
export CARTELSIM_DATA_DIR := $(abspath $(DATA_DIR))
endif
# The dashboard's browser tests drive Debian's Chromium (Playwright's own download does not
# work on our machines): `make test` installs it with apt-get (as root, else with sudo) when
# it is missing, and the browser tests are skipped, saying why, only if that fails.
CHROMIUM := /usr/bin/chromium

.PHONY: demo test lint bench clean

$(BIN)/cartelsim: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e ".[dev]"
	touch $@

demo: $(BIN)/cartelsim
	$(BIN)/cartelsim run mexico --runs 1 --out results/mexico --force

test: $(BIN)/cartelsim
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks
	@no_browser=""; \
	if [ ! -x $(CHROMIUM) ]; then \
	    echo "make test: $(CHROMIUM) is missing; installing Debian's chromium with apt-get"; \
	    sudo=""; [ "$$(id -u)" -eq 0 ] || sudo="sudo"; \
	    { $$sudo apt-get update -qq && $$sudo apt-get install -y -qq chromium; } \
	        || no_browser="apt-get install chromium failed (see above), so $(CHROMIUM) is missing"; \
	    [ -x $(CHROMIUM) ] || no_browser="$${no_browser:-$(CHROMIUM) is still missing after apt-get}"; \
	fi; \
	echo "$(BIN)/pytest"; \
	CARTELSIM_NO_BROWSER="$$no_browser" $(BIN)/pytest

# The benchmarks of DESIGN.md section 7 (Mesa, for the agent comparison, is a bench-only extra).
# benchmarks/dashboard_load.py (20 browser sessions) is heavier and is run by hand.
bench: $(BIN)/cartelsim
	$(BIN)/pip install --quiet -e ".[dev,bench]"
	$(BIN)/python benchmarks/aggregate.py
	$(BIN)/python benchmarks/agents.py
	$(BIN)/python benchmarks/calibration.py
	$(BIN)/python benchmarks/invariants.py

clean:
	rm -rf $(VENV) results .pytest_cache .ruff_cache
