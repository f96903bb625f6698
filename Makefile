# zoho-watch: `make demo` and `make test` are all a new user needs; both set up what they use.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp
SAM_VENV := .venv-sam
# checkov pins packaging<24 and urllib3 1.x, which pytest 9 cannot live with: it gets its own environment.
CHECKOV_VENV := .venv-checkov
# `sam build` needs the Lambda runtime's Python (3.13) on PATH: take pyenv's, else one on PATH.
PY313 := $(or $(wildcard $(shell pyenv root 2>/dev/null)/versions/3.13*/bin/python3.13),$(shell command -v python3.13 2>/dev/null))
PYTEST_ARGS ?=

.PHONY: help install gates lint test demo local build bench clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed -E 's/:.*## /\t/' | column -t -s $$'\t'

$(STAMP): requirements-dev.txt layers/zoho_watch/requirements.txt pyproject.toml
	@$(PYTHON) -c 'import sys; assert (3, 11) <= sys.version_info[:2] <= (3, 13), "zoho-watch needs Python 3.11 to 3.13, found " + sys.version.split()[0]'
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	$(PY) -m pip install --quiet --disable-pip-version-check -e '.[local]'
	touch $(STAMP)

install: $(STAMP) ## create .venv with the pinned tools and the zoho-watch CLI

$(CHECKOV_VENV)/.installed-stamp: requirements-checkov.txt
	$(PYTHON) -m venv $(CHECKOV_VENV)
	$(CHECKOV_VENV)/bin/pip install --quiet --disable-pip-version-check -r requirements-checkov.txt
	touch $@

# checkov is told not to ask PyPI for a newer version of itself (it would, once an hour, and the offline test
# in tests/reliability/test_least_privilege.py would then see a network attempt).
CHECKOV_RUN := CKV_SKIP_PACKAGE_UPDATE_CHECK=true BC_SKIP_MAPPING=TRUE $(CHECKOV_VENV)/bin/checkov --config-file .checkov.yaml --quiet

gates: $(STAMP) ## the fast gates: ruff, mypy, cfn-lint, statelint, substitutions, offline SAM transform
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy
	$(VENV)/bin/cfn-lint template.yaml
	$(PY) -m tools.gates all

lint: gates $(CHECKOV_VENV)/.installed-stamp ## every gate: the fast gates, then checkov
	$(CHECKOV_RUN)

# Each gate runs once: the fast gates here, checkov inside pytest (tests/reliability/test_least_privilege.py runs
# it offline, with the network refused). pytest runs on both cores (pytest-xdist), a file at a time per worker
# (one embedded stack per file), in collection order: the files of the `long_running` tests first (see
# tests/conftest.py), so that neither core waits for the other at the end.
# The two environments install side by side (pip spends most of its time on one core); the gates follow.
test: ## the fast gates, then every unit, integration and reliability test (checkov included)
	@$(MAKE) --no-print-directory -j 2 gates $(CHECKOV_VENV)/.installed-stamp
	$(PY) -m pytest -n 2 --dist loadfile --no-loadscope-reorder $(PYTEST_ARGS)

demo: $(STAMP) ## run the main job on the embedded stack (no AWS account, no Docker)
	@test -f zoho_watch_cli/__main__.py || { echo "make demo: the CLI is not built yet (zoho_watch_cli/__main__.py is missing)" >&2; exit 1; }
	$(PY) -m zoho_watch_cli demo

local: $(STAMP) ## start the embedded stack and keep it running until Ctrl-C
	$(PY) -m zoho_watch_cli local up

bench: $(STAMP) ## benchmarks, printed as a markdown table
	@test -f bench/__main__.py || { echo "make bench: the benchmarks are not built yet (bench/__main__.py is missing)" >&2; exit 1; }
	$(PY) -m bench

$(SAM_VENV)/.installed-stamp: requirements-sam.txt
	@test -n "$(PY313)" || { echo "make build: no python3.13 found (looked in \$$(pyenv root)/versions/3.13*/bin and on PATH); install Python 3.13, the Lambda runtime" >&2; exit 1; }
	$(PY313) -m venv $(SAM_VENV)
	$(SAM_VENV)/bin/pip install --quiet --disable-pip-version-check -r requirements-sam.txt
	touch $@

build: $(SAM_VENV)/.installed-stamp ## sam build for python3.13 into .aws-sam/, bytecode compiled
	PATH="$(dir $(PY313)):$$PATH" SAM_CLI_TELEMETRY=0 $(SAM_VENV)/bin/sam build --template template.yaml
	@# Lambda's /var/task and /opt are read-only: without shipped .pyc every cold start compiles every module
	@# it imports (measured: the api's import takes 4x longer from source). Hash-checked, not mtime-checked,
	@# because deployment packages do not keep file times.
	$(PY313) -m compileall -q -j 0 --invalidation-mode unchecked-hash .aws-sam/build

clean: ## remove virtual environments, build output and caches
	rm -rf $(VENV) $(SAM_VENV) $(CHECKOV_VENV) .aws-sam .pytest_cache .ruff_cache .mypy_cache .hypothesis
