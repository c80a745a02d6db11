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
# The points engine's modules are compiled from their Python source (setup.py,
# src/loyaltycore/_compiled.py): a build that cannot compile them fails here.
export LOYALTYCORE_COMPILE ?= required
COMPILED_SOURCES := setup.py src/loyaltycore/_compiled.py $(wildcard src/loyaltycore/points/*.py)

.PHONY: demo service test lint typecheck pytest pytest-pure test-stores docs bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

# (the dependencies first, with the package as pure Python; .stamp-compiled compiles it)
$(VENV)/.stamp-base: pyproject.toml constraints.txt | $(BIN)/python
	$(BIN)/python -m pip install $(PIP_FLAGS) --upgrade pip
	LOYALTYCORE_COMPILE=no $(BIN)/python -m pip install $(PIP_FLAGS) -e '.[clv,plot,report]'
	touch $@

$(VENV)/.stamp-dev: pyproject.toml constraints.txt | $(BIN)/python
	$(BIN)/python -m pip install $(PIP_FLAGS) --upgrade pip
	LOYALTYCORE_COMPILE=no $(BIN)/python -m pip install $(PIP_FLAGS) -e '.[dev]'
	touch $@ $(VENV)/.stamp-base

# The compiled modules, built in place next to their source, again whenever it changes.
$(VENV)/.stamp-compiled: $(COMPILED_SOURCES) | $(VENV)/.stamp-base
	$(BIN)/python -m pip install $(PIP_FLAGS) --build-constraint constraints.txt --no-deps -e .
	touch $@

demo: $(VENV)/.stamp-base $(VENV)/.stamp-compiled
	$(BIN)/python -m loyaltycore report
	$(BIN)/python examples/sqlite_host.py

# The example HTTP service on http://127.0.0.1:8000 (examples/service/README.md).
LOYALTY_STORE ?= sqlite:///$(CURDIR)/loyalty-service.db
service: $(VENV)/.stamp-dev $(VENV)/.stamp-compiled
	LOYALTY_STORE='$(LOYALTY_STORE)' $(BIN)/python -m gunicorn --chdir examples/service \
		--bind 127.0.0.1:8000 --workers 2 --threads 4 'service:create_app()'

lint: $(VENV)/.stamp-dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(VENV)/.stamp-dev
	$(BIN)/mypy --strict src

pytest: $(VENV)/.stamp-dev $(VENV)/.stamp-compiled
	$(BIN)/python -m pytest -q

# The points tests once more, on the engine's pure-Python source (docs/architecture.md).
PURE_TESTS := tests/test_compiled.py $(wildcard tests/test_points*.py) tests/test_golden.py \
	src/loyaltycore/points docs/points.md
pytest-pure: $(VENV)/.stamp-dev
	LOYALTYCORE_PURE_PYTHON=1 $(BIN)/python -m pytest -q $(PURE_TESTS)

# The store contract on SQLite and on a throw-away PostgreSQL server: the tests find
# the server binaries under /usr/lib/postgresql/*/bin (see docs/stores.md).
test-stores: $(VENV)/.stamp-dev $(VENV)/.stamp-compiled
	$(BIN)/python -m pytest -q tests/stores

# (on the pure source: autodoc lists members in source order, which it reads from .py files)
docs: $(VENV)/.stamp-dev
	LOYALTYCORE_PURE_PYTHON=1 $(BIN)/python -m sphinx -W --keep-going -q -b html docs docs/_build/html

test: lint typecheck pytest pytest-pure docs

$(BENCH_BIN)/python:
	$(PYTHON) -m venv $(BENCH_VENV)

$(BENCH_VENV)/.stamp: pyproject.toml constraints.txt benchmarks/constraints.txt | $(BENCH_BIN)/python
	$(BENCH_BIN)/python -m pip install --disable-pip-version-check --no-input --quiet -c benchmarks/constraints.txt --upgrade pip
	LOYALTYCORE_COMPILE=no $(BENCH_BIN)/python -m pip install --disable-pip-version-check --no-input --quiet -c benchmarks/constraints.txt -e '.[clv,report]' -r benchmarks/requirements.txt
	touch $@

$(BENCH_VENV)/.stamp-compiled: $(COMPILED_SOURCES) | $(BENCH_VENV)/.stamp
	$(BENCH_BIN)/python -m pip install --disable-pip-version-check --no-input --quiet --build-constraint constraints.txt --no-deps -e .
	touch $@

bench: $(BENCH_VENV)/.stamp $(BENCH_VENV)/.stamp-compiled
	$(BENCH_BIN)/python benchmarks/run_all.py

clean:
	rm -rf $(VENV) $(BENCH_VENV) docs/_build build
	find src -name '*.so' -delete
