# One command runs the bot, one runs the tests; each sets itself up on a fresh machine.
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python

.PHONY: run test bench lint setup clean

$(VENV)/.installed: pyproject.toml
	@command -v $(PYTHON) >/dev/null 2>&1 || { echo "需要 Python 3.11 / Python 3.11 is required"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	@touch $@

setup: $(VENV)/.installed

## run: set up (first time) and start the bot with long polling
run: setup
	$(PY) -m bot run

## test: set up (first time), lint and run the whole test suite on SQLite, then again on a
## throw-away PostgreSQL cluster (installed from Debian's packages if missing; see tests/pg_cluster.py).
## Debian's Chromium is installed too when missing, for the demo's browser test (tests/browser.py).
test: setup
	$(PY) -m ruff check .
	$(PY) -m tests.browser
	$(PY) -m pytest -q
	$(PY) -m tests.pg_cluster $(PY) -m pytest -q

## bench: set up (first time) and print the performance figures
bench: setup
	$(PY) -m tests.bench

## demo: set up (first time) and try the bot without a token, in the browser
## (the fake Bot API server, a seeded story in data/demo.db, the real bot; DEMO_PORT=8088)
DEMO_PORT ?= 8088
.PHONY: demo
demo: setup
	$(PY) -m tests.demo --port $(DEMO_PORT)

lint: setup
	$(PY) -m ruff check .

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
