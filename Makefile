# The two commands of the README:  `make demo`  and  `make test`.
PY ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: demo test install dev system-deps lint mutants

$(BIN)/python:
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

install: $(BIN)/python
	$(BIN)/pip install -q -r requirements.lock
	$(BIN)/pip install -q --no-deps -e .

dev: install
	$(BIN)/pip install -q -r requirements-dev.lock

# Debian packages the tests need: headless Chromium for the browser tests,
# a CJK font for charts and rendered workbooks.
system-deps:
	@bash scripts/system-deps.sh

demo: install system-deps
	$(BIN)/yidan demo

lint:
	$(BIN)/ruff check src tests bench
	$(BIN)/mypy

# Two pytest-xdist workers: a module stays whole on one worker (tests/conftest.py, pytest_xdist_make_scheduler),
# runs are shared between them (tests/shared_runs.py); measured in docs/dev/testing.md. `make test WORKERS=0`
# runs the suite in one process.
WORKERS ?= 2
test: dev system-deps lint
	$(BIN)/python -m pytest -q -n $(WORKERS)

# Mutation testing of the rule modules (scripts/mutants.py; not part of `make test`, tens of minutes):
# survivors and the score per package in mutants/report.md.  `make mutants PACKAGES="classify audit"`
mutants: dev
	nice -n 10 $(BIN)/python scripts/mutants.py $(PACKAGES)
