# Two commands set everything up on a fresh machine: `make demo` and `make test`.
# Each creates its virtualenv if missing, upgrades pip, installs pinned versions
# (constraints.txt) and leaves a stamp, so a second run installs nothing.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
BENCH_VENV := .venv-bench
BENCH_BIN := $(BENCH_VENV)/bin
PIP_FLAGS := --disable-pip-version-check --no-input --quiet -c constraints.txt
export HYPOTHESIS_PROFILE ?= ci

.PHONY: demo service test lint typecheck pytest test-stores docs bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(VENV)/.stamp-base: pyproject.toml constraints.txt | $(BIN)/python
	$(BIN)/python -m pip install $(PIP_FLAGS) --upgrade pip
	$(BIN)/python -m pip install $(PIP_FLAGS) -e '.[clv,plot,report]'
	touch $@

$(VENV)/.stamp-dev: pyproject.toml constraints.txt | $(BIN)/python
	$(BIN)/python -m pip install $(PIP_FLAGS) --upgrade pip
	$(BIN)/python -m pip install $(PIP_FLAGS) -e '.[dev]'
	touch $@ $(VENV)/.stamp-base

demo: $(VENV)/.stamp-base
	$(BIN)/python -m loyaltycore report
	$(BIN)/python examples/sqlite_host.py

# The example HTTP service on http://127.0.0.1:8000 (examples/service/README.md).
LOYALTY_STORE ?= sqlite:///$(CURDIR)/loyalty-service.db
service: $(VENV)/.stamp-dev
	LOYALTY_STORE='$(LOYALTY_STORE)' $(BIN)/python -m gunicorn --chdir examples/service \
		--bind 127.0.0.1:8000 --workers 2 --threads 4 'service:create_app()'

lint: $(VENV)/.stamp-dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(VENV)/.stamp-dev
	$(BIN)/mypy --strict src

pytest: $(VENV)/.stamp-dev
	$(BIN)/python -m pytest -q

# The store contract on SQLite and on a throw-away PostgreSQL server: the tests find
# the server binaries under /usr/lib/postgresql/*/bin (see docs/stores.md).
test-stores: $(VENV)/.stamp-dev
	$(BIN)/python -m pytest -q tests/stores

docs: $(VENV)/.stamp-dev
	$(BIN)/python -m sphinx -W --keep-going -q -b html docs docs/_build/html

test: lint typecheck pytest docs

$(BENCH_BIN)/python:
	$(PYTHON) -m venv $(BENCH_VENV)

$(BENCH_VENV)/.stamp: pyproject.toml constraints.txt benchmarks/constraints.txt | $(BENCH_BIN)/python
	$(BENCH_BIN)/python -m pip install --disable-pip-version-check --no-input --quiet -c benchmarks/constraints.txt --upgrade pip
	$(BENCH_BIN)/python -m pip install --disable-pip-version-check --no-input --quiet -c benchmarks/constraints.txt -e '.[clv,report]' -r benchmarks/requirements.txt
	touch $@

bench: $(BENCH_VENV)/.stamp
	$(BENCH_BIN)/python benchmarks/run_all.py

clean:
	rm -rf $(VENV) $(BENCH_VENV) docs/_build
