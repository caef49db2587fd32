# The README's commands. Build outputs (.venv, .toolchain, .state) are cached and reused.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
AUTOCLOUD := $(VENV)/bin/autocloud
export GOTOOLCHAIN := local

.PHONY: up down test lint unit integration bench toolchain venv cluster-start cluster-stop clean system-deps node-tools

## up: build or reuse the toolchain, start the embedded cluster, deploy the local stacks with the policy packs
up: venv
	$(AUTOCLOUD) up

## down: destroy the local stacks and stop the embedded cluster
down: venv
	$(AUTOCLOUD) down

## test: install what is needed, lint, type-check and run the whole test suite
test: venv toolchain system-deps node-tools lint
	$(PY) -m pytest -ra

lint: venv
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy

unit: venv
	$(PY) -m pytest -ra tests/unit tests/policies

integration: venv toolchain system-deps node-tools
	$(PY) -m pytest -ra tests/integration

## bench: run the benchmarks and record their figures under bench/results
bench: venv toolchain
	$(PY) tests/bench/run_all.py

toolchain: venv
	$(PY) -m autocloud.toolchain build

## system-deps: Debian packages the tests drive (headless Chromium screenshots the HTML report); only when missing
system-deps:
	@if [ ! -x /usr/bin/chromium ]; then \
	  command -v apt-get >/dev/null || { echo "error: /usr/bin/chromium is missing; install Chromium" >&2; exit 1; }; \
	  sudo=$$([ "$$(id -u)" = 0 ] || echo sudo); \
	  $$sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$sudo apt-get install -y -qq chromium; \
	fi

## node-tools: npm tools the tests run (Azurite for the azblob backend test), pinned by toolchain/node/package-lock.json
NODE_TOOLS := .toolchain/node
node-tools: $(NODE_TOOLS)/.installed

$(NODE_TOOLS)/.installed: toolchain/node/package.json toolchain/node/package-lock.json
	@command -v npm >/dev/null || { echo "error: npm not found; install Node.js 20 or newer" >&2; exit 1; }
	mkdir -p $(NODE_TOOLS)
	cp toolchain/node/package.json toolchain/node/package-lock.json $(NODE_TOOLS)/
	npm ci --prefix $(NODE_TOOLS) --no-audit --no-fund --loglevel=error
	touch $@

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
