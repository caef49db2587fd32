# The README's commands. Build outputs (.venv, .toolchain, .state) are cached and reused.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
AUTOCLOUD := $(VENV)/bin/autocloud
export GOTOOLCHAIN := local

.PHONY: up down test lint unit integration bench toolchain venv cluster-start cluster-stop clean

## up: build or reuse the toolchain, start the embedded cluster, deploy the local stacks with the policy packs
up: venv
	$(AUTOCLOUD) up

## down: destroy the local stacks and stop the embedded cluster
down: venv
	$(AUTOCLOUD) down

## test: install what is needed, lint, type-check and run the whole test suite
test: venv toolchain lint
	$(PY) -m pytest -ra

lint: venv
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy

unit: venv
	$(PY) -m pytest -ra tests/unit tests/policies

integration: venv toolchain
	$(PY) -m pytest -ra tests/integration

## bench: run the benchmarks and record their figures under bench/results
bench: venv toolchain
	$(PY) tests/bench/run_all.py

toolchain: venv
	$(PY) -m autocloud.toolchain build

cluster-start: venv toolchain
	$(AUTOCLOUD) cluster start

cluster-stop: venv
	$(AUTOCLOUD) cluster stop

venv: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	@command -v $(PYTHON) >/dev/null || { echo "error: $(PYTHON) not found; install Python 3.11" >&2; exit 1; }
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --disable-pip-version-check --upgrade pip
	$(PY) -m pip install -q --disable-pip-version-check -e '.[dev]'
	touch $@

clean:
	$(AUTOCLOUD) cluster stop || true
	rm -rf .state
