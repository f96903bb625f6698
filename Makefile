# zoho-watch: `make demo` and `make test` are all a new user needs; both set up what they use.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp
# uv installs every environment (pinned in requirements-uv.txt): it resolves and unpacks in seconds what pip took
# a minute and a half of CPU for, and leaves bytecode to be compiled on first import, for the modules used only.
UV := $(VENV)/bin/uv
UV_STAMP := $(VENV)/.uv-stamp
UV_INSTALL := $(UV) pip install --quiet
SAM_VENV := .venv-sam
# checkov pins packaging<24 and urllib3 1.x, which pytest 9 cannot live with: it gets its own environment.
CHECKOV_VENV := .venv-checkov
# The layer and handler tests also run on python3.13, the functions' Lambda runtime, in their own environment.
VENV_313 := .venv-313
# `sam build` and the 3.13 tests need the Lambda runtime's Python (3.13): take pyenv's, else one on PATH.
PY313 := $(or $(wildcard $(shell pyenv root 2>/dev/null)/versions/3.13*/bin/python3.13),$(shell command -v python3.13 2>/dev/null))
NO_PY313 := no python3.13 found (looked in \$$(pyenv root)/versions/3.13*/bin and on PATH); install Python 3.13, the Lambda runtime
# The tests that run on the Lambda runtime's Python: the layer's and the handlers'. The others need the
# embedded stack or the CLI and run on the Python of $(VENV) (3.11 to 3.13), where the layer and the handlers
# run again, inside the embedded stack.
TESTS_313 := tests/unit/library tests/unit/functions
PYTEST_ARGS ?=
# The suite starts a dozen Python processes (pytest's workers, the CLI, the emulator, nested pytest runs, checkov):
# each would compile every module it imports again, and pytest rewrite every test module again, when the
# environment forbids bytecode caches (they go to __pycache__ folders that git ignores).
unexport PYTHONDONTWRITEBYTECODE

.PHONY: help install gates lint test test-313 demo local build bench clean

help: ## list the targets
	@grep -E '^[a-z0-9-]+:.*## ' $(MAKEFILE_LIST) | sed -E 's/:.*## /\t/' | column -t -s $$'\t'

$(UV_STAMP): requirements-uv.txt
	@$(PYTHON) -c 'import sys; assert (3, 11) <= sys.version_info[:2] <= (3, 13), "zoho-watch needs Python 3.11 to 3.13, found " + sys.version.split()[0]'
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-uv.txt
	touch $@

$(STAMP): $(UV_STAMP) requirements-dev.txt layers/zoho_watch/requirements.txt pyproject.toml
	$(UV_INSTALL) --python $(PY) -r requirements-dev.txt -e '.[local]'
	touch $@

install: $(STAMP) ## create .venv with the pinned tools and the zoho-watch CLI

# Compiled at install (beside the gates): checkov runs once per `make test`, inside pytest, and would otherwise
# compile its thousand modules there.
$(CHECKOV_VENV)/.installed-stamp: $(UV_STAMP) requirements-checkov.txt
	$(PYTHON) -m venv --without-pip $(CHECKOV_VENV)
	$(UV_INSTALL) --compile-bytecode --python $(CHECKOV_VENV)/bin/python -r requirements-checkov.txt
	touch $@

# The same pinned packages as $(VENV); the project itself is on pytest's `pythonpath` (pyproject.toml).
$(VENV_313)/.installed-stamp: $(UV_STAMP) requirements-dev.txt layers/zoho_watch/requirements.txt
	@test -n "$(PY313)" || { echo "make test: $(NO_PY313)" >&2; exit 1; }
	$(PY313) -m venv --without-pip $(VENV_313)
	$(UV_INSTALL) --python $(VENV_313)/bin/python -r requirements-dev.txt
	touch $@

# checkov is told not to ask PyPI for a newer version of itself (it would, once an hour, and the offline test
# in tests/reliability/test_least_privilege.py would then see a network attempt).
CHECKOV_RUN := CKV_SKIP_PACKAGE_UPDATE_CHECK=true BC_SKIP_MAPPING=TRUE $(CHECKOV_VENV)/bin/checkov --config-file .checkov.yaml --quiet

gates: $(STAMP) ## the fast gates: ruff, mypy, cfn-lint, statelint, substitutions, offline SAM transform
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy
	$(VENV)/bin/cfn-lint template.yaml examples/*/template.yaml
	$(PY) -m tools.gates all
	for example in examples/*/template.yaml; do $(PY) -m tools.gates all --template $$example || exit 1; done

lint: gates $(CHECKOV_VENV)/.installed-stamp ## every gate: the fast gates, then checkov
	$(CHECKOV_RUN)

# Each gate runs once: the fast gates here, checkov inside pytest (tests/reliability/test_least_privilege.py runs
# it offline, with the network refused). Each test runs once too: the layer's and the handlers' on python3.13
# (the Lambda runtime) on one core while the gates take the other, then the others with pytest-xdist, a file at
# a time per worker (one embedded stack per file), in collection order: the files of the `long_running` tests
# first (see tests/conftest.py), so that no worker is left with a long file at the end. Three workers on two
# cores: a worker waits now and then (for a subprocess it started, or between two real-time looks of a test
# driver), and the third keeps both cores busy meanwhile (measured on 2 cores: 170 s with two, 146-154 s).
PYTEST_WORKERS ?= 3
test: ## the fast gates, then every unit, integration and reliability test (checkov included)
	@$(MAKE) --no-print-directory -j 2 --output-sync=target gates test-313 $(CHECKOV_VENV)/.installed-stamp
	$(PY) -m pytest -n $(PYTEST_WORKERS) --dist loadfile --no-loadscope-reorder $(addprefix --ignore=,$(TESTS_313)) $(PYTEST_ARGS)

test-313: $(VENV_313)/.installed-stamp ## the layer's and the handlers' tests on python3.13, the Lambda runtime
	$(VENV_313)/bin/python -m pytest -p no:xdist $(PYTEST_ARGS) $(TESTS_313)

demo: $(STAMP) ## run the main job on the embedded stack (no AWS account, no Docker)
	@test -f zoho_watch_cli/__main__.py || { echo "make demo: the CLI is not built yet (zoho_watch_cli/__main__.py is missing)" >&2; exit 1; }
	$(PY) -m zoho_watch_cli demo

local: $(STAMP) ## start the embedded stack and keep it running until Ctrl-C
	$(PY) -m zoho_watch_cli local up

bench: $(STAMP) $(VENV_313)/.installed-stamp ## benchmarks, printed as a markdown table (cold starts on python3.13)
	@test -f bench/__main__.py || { echo "make bench: the benchmarks are not built yet (bench/__main__.py is missing)" >&2; exit 1; }
	$(PY) -m bench

$(SAM_VENV)/.installed-stamp: $(UV_STAMP) requirements-sam.txt
	@test -n "$(PY313)" || { echo "make build: $(NO_PY313)" >&2; exit 1; }
	$(PY313) -m venv --without-pip $(SAM_VENV)
	$(UV_INSTALL) --python $(SAM_VENV)/bin/python -r requirements-sam.txt
	touch $@

build: $(SAM_VENV)/.installed-stamp ## sam build for python3.13 into .aws-sam/, bytecode compiled
	PATH="$(dir $(PY313)):$$PATH" SAM_CLI_TELEMETRY=0 $(SAM_VENV)/bin/sam build --template template.yaml
	@# Lambda's /var/task and /opt are read-only: without shipped .pyc every cold start compiles every module
	@# it imports (measured: the api's import takes 4x longer from source). Hash-checked, not mtime-checked,
	@# because deployment packages do not keep file times.
	$(PY313) -m compileall -q -j 0 --invalidation-mode unchecked-hash .aws-sam/build

clean: ## remove virtual environments, build output and caches
	rm -rf $(VENV) $(SAM_VENV) $(CHECKOV_VENV) $(VENV_313) .aws-sam .pytest_cache .ruff_cache .mypy_cache .hypothesis
