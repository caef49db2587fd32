# The README's commands. Build outputs (.venv, .toolchain, .state) are cached and reused.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
AUTOCLOUD := $(VENV)/bin/autocloud
export GOTOOLCHAIN := local

.PHONY: up down test check-envs device-sdk lint go-lint unit integration go-test bench bench-checkov toolchain venv cluster-start cluster-stop clean system-deps node-tools

## up: build or reuse the toolchain, start the embedded cluster, deploy the local stacks with the policy packs
up: venv system-deps
	$(AUTOCLOUD) up

## down: destroy the local stacks and stop the embedded cluster
down: venv
	$(AUTOCLOUD) down

## test: install what is needed, lint, type-check and run the whole test suite. The toolchain builds in
## the background meanwhile: lint and the unit tests need none of it, and a cold Go build leaves a core
## idle while it downloads modules and links.
TOOLCHAIN_LOG := .state/toolchain-build.log
GO_TEST_LOG := .state/go-test.log
CHECK_ENVS_LOG := .state/check-envs.log
test: venv system-deps node-tools device-sdk
	@mkdir -p .state
	@echo "test: building the toolchain in the background (log: $(TOOLCHAIN_LOG)); lint and unit tests meanwhile"
	@$(MAKE) --no-print-directory toolchain >$(TOOLCHAIN_LOG) 2>&1 & build=$$!; \
	$(MAKE) --no-print-directory check-envs >$(CHECK_ENVS_LOG) 2>&1 & envs=$$!; \
	status=0; $(MAKE) --no-print-directory lint unit || status=$$?; \
	echo "test: waiting for the toolchain build"; \
	if ! wait $$build; then echo "error: the toolchain build failed; the end of $(TOOLCHAIN_LOG):" >&2; \
	  tail -n 20 $(TOOLCHAIN_LOG) >&2; exit 1; fi; \
	if ! wait $$envs; then echo "error: a sample program's environment failed; see $(CHECK_ENVS_LOG):" >&2; \
	  tail -n 5 $(CHECK_ENVS_LOG) >&2; exit 1; fi; \
	grep -E '^\[[0-9]+/[0-9]+\] .* built in' $(TOOLCHAIN_LOG) || true; \
	exit $$status
	@echo "test: Go tests in the background (log: $(GO_TEST_LOG)) beside the integration tests"
	@$(MAKE) --no-print-directory go-test >$(GO_TEST_LOG) 2>&1 & gotest=$$!; \
	status=0; $(PY) -m pytest -ra --durations=15 $(INTEGRATION_WORKERS) tests/integration || status=$$?; \
	if wait $$gotest; then grep -E '^(ok|---)' $(GO_TEST_LOG) || true; \
	else echo "error: the Go tests failed; the end of $(GO_TEST_LOG):" >&2; tail -n 40 $(GO_TEST_LOG) >&2; status=1; fi; \
	exit $$status

## lint: ruff (lint and format), mypy and the layering contracts (pyproject.toml's [tool.importlinter]);
## gofmt and go vet on our own Go programs
lint: venv go-lint
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy
	$(VENV)/bin/lint-imports --no-cache

# Our own Go programs, one module each under cmd/.
GO_PROGRAMS := $(wildcard cmd/*)

go-lint:
	@unformatted=$$(gofmt -l $(GO_PROGRAMS) toolchain/go); \
	if [ -n "$$unformatted" ]; then echo "gofmt: not formatted (run gofmt -w):" $$unformatted >&2; exit 1; fi
	@for dir in $(GO_PROGRAMS); do (cd $$dir && go vet ./...) || exit 1; done

unit: venv
	$(PY) -m pytest -ra tests/unit tests/policies

# The integration test files on two workers, each with its own embedded cluster: alone, the suite leaves
# about 60% of the two cores idle while it waits on pods and the engine. A file stays on one worker (its
# module fixtures deploy stacks once).
INTEGRATION_WORKERS := -n 2 --dist loadfile

integration: venv toolchain system-deps node-tools device-sdk
	$(PY) -m pytest -ra $(INTEGRATION_WORKERS) tests/integration

# Our own Go programs' tests; the state writer's run a real FerretDB from the toolchain.
go-test: toolchain
	cd cmd/ingest && go test -count=1 ./...
	cd cmd/statewriter && go test -count=1 ./...
	cd cmd/fleetsim && go test -count=1 ./...

## bench: run the benchmarks and record their figures under bench/results
# Debian's mosquitto is the ceiling the fleet benchmark compares the local platform's rate with.
bench: venv toolchain bench-checkov
	@$(MAKE) --no-print-directory system-deps SYSTEM_DEPS=mosquitto:/usr/sbin/mosquitto
	$(PY) tests/bench/run_all.py
	cd cmd/fleetsim && go test -count=1 -run '^$$' -bench MemoryPerThousandConnections -benchtime 1x . \
	  | tee ../../bench/results/fleetsim-memory.txt
	cd cmd/statewriter && go test -count=1 -run '^$$' -bench StoreWritesAtAThousandVehicles -benchtime 5x . \
	  | tee ../../bench/results/statewriter-store.txt
	cd cmd/statewriter && go test -count=1 -run '^$$' -bench PollCPUPerRecord -benchtime 20x . \
	  | tee ../../bench/results/statewriter-cpu.txt
	cd cmd/ingest && go test -count=1 -run '^$$' -bench HubPerMessage -benchtime 60000x . \
	  | tee ../../bench/results/ingest-cpu.txt

# Checkov for the side-by-side figure in bench_check.py, in an environment of its own.
bench-checkov: .state/bench-checkov/bin/checkov
.state/bench-checkov/bin/checkov:
	$(PYTHON) -m venv .state/bench-checkov
	.state/bench-checkov/bin/pip install --quiet --disable-pip-version-check checkov==3.3.30

# The environments of the foreign sample programs `autocloud check` runs in the integration tests (one
# pins azure-native 2.x: a large pip install, mostly waiting on downloads, so `test` runs it beside the build).
check-envs: venv
	$(PY) -m autocloud.verification.check.program_env $(wildcard tests/programs/foreign/*/)

## device-sdk: Microsoft's Python device SDK (azure-iot-device, which pins paho-mqtt 1.x) in an environment
## of its own, for the test that a device built on it registers and sends to the local platform unchanged.
DEVICE_SDK := .state/device-sdk
device-sdk: $(DEVICE_SDK)/.installed
$(DEVICE_SDK)/.installed:
	$(PYTHON) -m venv $(DEVICE_SDK)
	$(DEVICE_SDK)/bin/pip install --quiet --disable-pip-version-check azure-iot-device==2.14.0
	touch $@

toolchain: venv system-deps
	$(AUTOCLOUD) toolchain build

## system-deps: Debian packages the tests, the node and the builds need; each is checked by a file it
## installs, and apt-get runs (update once, then one install) only when something is missing.
# chromium screenshots the HTML report; iptables and ipset are the node's packet filter (kube-proxy,
# kube-router); libseccomp-dev, gcc and pkg-config build runc (cgo); busybox-static is the test image
# and the Kafka image's shell; the Kafka image takes Debian's JRE, and maven resolves Kafka's jars.
SYSTEM_DEPS := chromium:/usr/bin/chromium iptables:/usr/sbin/iptables ipset:/usr/sbin/ipset \
	libseccomp-dev:/usr/include/seccomp.h busybox-static:/bin/busybox gcc:/usr/bin/gcc pkg-config:/usr/bin/pkg-config \
	openjdk-17-jre-headless:/usr/lib/jvm/java-17-openjdk-amd64/bin/java maven:/usr/bin/mvn
system-deps:
	@missing=; for dep in $(SYSTEM_DEPS); do [ -e "$${dep#*:}" ] || missing="$$missing $${dep%%:*}"; done; \
	if [ -n "$$missing" ]; then \
	  command -v apt-get >/dev/null || { echo "error: missing Debian packages:$$missing; install them" >&2; exit 1; }; \
	  sudo=$$([ "$$(id -u)" = 0 ] || echo sudo); \
	  echo "system-deps: installing$$missing"; \
	  $$sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$sudo apt-get install -y -qq $$missing; \
	fi

## node-tools: npm tools the tests run (Azurite for the azblob backend test), pinned by toolchain/node/package-lock.json
NODE_TOOLS := .toolchain/node
node-tools: $(NODE_TOOLS)/.installed

$(NODE_TOOLS)/.installed: toolchain/node/package.json toolchain/node/package-lock.json
	@command -v npm >/dev/null || { echo "error: npm not found; install Node.js 20 or newer" >&2; exit 1; }
	mkdir -p $(NODE_TOOLS)
	cp toolchain/node/package.json toolchain/node/package-lock.json $(NODE_TOOLS)/
	cd $(NODE_TOOLS) && npm ci --no-audit --no-fund --loglevel=error
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
