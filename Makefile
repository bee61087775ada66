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

# One process: two pytest-xdist workers measured slower on 2 cores (docs/dev/testing.md); `pytest -n 2 --dist
# loadgroup` still works (a module stays on one worker, fixture runs shared through tests/shared_runs.py).
test: dev system-deps lint
	$(BIN)/python -m pytest -q

# Mutation testing of the rule modules (scripts/mutants.py; not part of `make test`, tens of minutes):
# survivors and the score per package in mutants/report.md.  `make mutants PACKAGES="classify audit"`
mutants: dev
	nice -n 10 $(BIN)/python scripts/mutants.py $(PACKAGES)
