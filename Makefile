# The newcomer's two commands, on a fresh Debian 12 machine as root:
#   make demo   installs what it needs, brings the lab up, scans it from the
#               inside and from the internet side, writes the reports, tears down
#   make test   installs what it needs and runs the whole suite, lab included
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp

.PHONY: deps demo test test-busy unit packaging lint schema clean compare-nmap bench bench-hub

deps: $(STAMP)
	@bash scripts/install-deps.sh

$(STAMP): pyproject.toml
	@bash scripts/install-deps.sh
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[test]'
	@touch $@

LINTED := exposcan exposcan_lab tests scripts bench

test: deps
	$(BIN)/ruff check $(LINTED)
	$(BIN)/ruff format --check $(LINTED)
	$(BIN)/mypy
	$(BIN)/python scripts/check_import_cycles.py
	EXPOSCAN_REQUIRE_LAB=1 $(BIN)/python -m pytest -q -ra
	@bash scripts/check-no-lab-left.sh

# The lab suite with both cores busy (a verdict that changes when the
# machine is busy is a defect): EXPOSCAN_LAB_BUSY CPU-bound processes run
# for the lab session (tests/lab/conftest.py).  BUSY=2 by default; narrow
# it with LAB_TESTS, e.g. make test-busy LAB_TESTS=tests/lab/test_hostile_lab.py.
# A busy machine is slower: the per-test timeout (a harness limit, not a
# verdict) is 600 s there.
BUSY      ?= 2
LAB_TESTS ?= tests/lab
test-busy: deps
	EXPOSCAN_REQUIRE_LAB=1 EXPOSCAN_LAB_BUSY=$(BUSY) $(BIN)/python -m pytest -q -ra --timeout 600 $(LAB_TESTS)
	@bash scripts/check-no-lab-left.sh

unit: deps
	$(BIN)/python -m pytest -q -m "not lab" tests/unit tests/inprocess

packaging: deps
	$(BIN)/python -m pytest -q tests/packaging

lint: deps
	$(BIN)/ruff check $(LINTED)
	$(BIN)/ruff format --check $(LINTED)
	$(BIN)/mypy
	$(BIN)/python scripts/check_import_cycles.py

schema: deps
	$(BIN)/python -m exposcan.schema

demo: deps
	bash scripts/demo.sh

compare-nmap: deps
	bash scripts/compare-nmap.sh

clean:
	-$(BIN)/python -m exposcan_lab down
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache

bench: deps
	$(BIN)/python -m bench

# The hub: ingest rate and dashboard times, on a throw-away PostgreSQL cluster
# (DB=sqlite for the SQLite file).
bench-hub: deps
	$(BIN)/python -m bench.hub --db $(or $(DB),postgres)
