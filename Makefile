# Two commands on a fresh machine: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
DEV_STAMP := $(VENV)/.installed-dev

.PHONY: run test lint typecheck check bench clean chromium jq wrk

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

# Debian packages, installed with apt only when their command is missing:
#   chromium  the console's browser tests (Playwright drives it; it never downloads a browser)
#   jq        the README's curl examples, which the suite runs as written
#   wrk       the throughput benchmarks' load generator (make bench)
apt_install = command -v $(1) >/dev/null || ( \
	  export DEBIAN_FRONTEND=noninteractive; \
	  apt-get install -y -q $(1) || (apt-get update -q && apt-get install -y -q $(1)) || \
	  (sudo apt-get update -q && sudo apt-get install -y -q $(1)))

chromium jq wrk:
	@$(call apt_install,$@)

# The suite runs on one worker per core (pytest-xdist): each worker has its own databases,
# Redis prefixes and loopback servers. `make test PYTEST_ARGS="-n 0 -k ..."` runs serially.
PYTEST_ARGS ?= -n auto

test: $(DEV_STAMP) $(OIDC_STAMP) chromium jq
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
