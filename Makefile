# Two commands on a fresh machine: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
DEV_STAMP := $(VENV)/.installed-dev

.PHONY: run test lint typecheck check bench clean chromium wrk

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e .
	touch $@

$(DEV_STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@ $(STAMP)

run: $(STAMP)
	$(BIN)/convobase serve

# The OpenID provider the sign-in tests run against (npm package oidc-provider).
OIDC_STAMP := tests/oidc/node_modules/.installed

$(OIDC_STAMP): tests/oidc/package.json tests/oidc/package-lock.json
	npm ci --prefix tests/oidc --no-audit --no-fund
	touch $@

# The console's browser tests drive Debian's Chromium (Playwright never downloads a browser).
chromium:
	@command -v chromium >/dev/null || ( \
	  export DEBIAN_FRONTEND=noninteractive; \
	  apt-get install -y -q chromium || (apt-get update -q && apt-get install -y -q chromium) || \
	  (sudo apt-get update -q && sudo apt-get install -y -q chromium))

# The throughput benchmarks' load generator (Debian's wrk), installed the same way.
wrk:
	@command -v wrk >/dev/null || ( \
	  export DEBIAN_FRONTEND=noninteractive; \
	  apt-get install -y -q wrk || (apt-get update -q && apt-get install -y -q wrk) || \
	  (sudo apt-get update -q && sudo apt-get install -y -q wrk))

# The suite runs on one worker per core (pytest-xdist): each worker has its own databases,
# Redis prefixes and loopback servers. `make test PYTEST_ARGS="-n 0 -k ..."` runs serially.
PYTEST_ARGS ?= -n auto

test: $(DEV_STAMP) $(OIDC_STAMP) chromium
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/mypy
	$(BIN)/pytest $(PYTEST_ARGS)

lint: $(DEV_STAMP)
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks

typecheck: $(DEV_STAMP)
	$(BIN)/mypy

bench: $(DEV_STAMP) wrk
	$(BIN)/python benchmarks/run.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
