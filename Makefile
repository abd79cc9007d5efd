# gridgov developer entry points (GNU make; every recipe line runs in its own bash).
# `make help` lists the targets. Nothing here needs Docker but compose-test
# (tests/compose/README.md): the servers are the locally installed PostgreSQL and RabbitMQ
# (docker-compose.yml is the container alternative).

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help
MAKEFLAGS += --no-print-directory

# The services, in start order. Compose has one entry per name (tests/test_tooling.py).
SERVICES := registry events dispatch assessment notify

# Python 3.11 (pyproject says >=3.11,<3.12): python3.11 if there is one, else python3.
PYTHON ?= $(shell command -v python3.11 2>/dev/null || command -v python3)
VENV := .venv
VPY := $(VENV)/bin/python
STAMP := $(VENV)/.gridgov-requirements.sha256
# What the installed environment depends on; deferred, so computed only when needed.
REQ_HASH = $(shell cat requirements.txt requirements-dev.txt pyproject.toml | sha256sum | cut -c1-64)
# Export .env into a recipe line's shell.
LOAD_ENV := set -a && . ./.env && set +a

PYTEST_ARGS ?=
SVC ?=
ROLE ?= district_admin
SCOPE ?= district:320505
SUB ?= ops-1

export GRIDGOV_SERVICES := $(SERVICES)

.PHONY: help app up down restart status logs test test-unit compose-test bench soak faults lint migrate demo demo-history demo-case token \
        venv env servers clean distclean simulate deps-up deps-test mutation oidc-provider

help: ## show this help
	@echo "gridgov: make <target> [VAR=value]"
	@echo
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | \
	  awk 'BEGIN {FS = ":.*## "}; {printf "  %-10s %s\n", $$1, $$2}'
	@echo
	@echo "Variables: SVC=<service> (logs, down), PYTEST_ARGS='-k x tests/y.py' (test),"
	@echo "           MINUTES=, RATE= cases/s, AUTOVACUUM=on|off (soak; RATE= is cases/min for simulate)"
	@echo "           ROLE=, SCOPE=, SUB= (token), PYTHON= (interpreter for .venv)"
	@echo "Services:  $(SERVICES)"

app: ## build the web front ends (web/app and web/desk -> dist/; npm ci + vite, skipped when fresh)
	@scripts/build_app.sh

up: deps-up venv env servers app ## everything: .venv, .env, servers, migrations, 5 services, demo data
	@scripts/up.sh

down: ## stop the services (SIGTERM, then SIGKILL after 20 s); SVC=x for one
	@scripts/down.sh $(SVC)

restart: ## down, then up
	@$(MAKE) down
	@$(MAKE) up

status: ## which services run (pid files under var/run)
	@for svc in $(SERVICES); do \
	  pid=$$(cat var/run/$$svc.pid 2>/dev/null || true); \
	  if [ -n "$$pid" ] && [ -r /proc/$$pid/cmdline ] && \
	     tr '\0' ' ' < /proc/$$pid/cmdline | grep -q "services\.$$svc\.service"; then \
	    printf '%-11s running (pid %s)\n' $$svc $$pid; \
	  else printf '%-11s stopped\n' $$svc; fi; \
	done

logs: ## follow all service logs (tail -F); SVC=registry for one
	@scripts/logs.sh $(SVC)

test: deps-test venv env servers oidc-provider app ## whole test suite on the real servers (services not started); PYTEST_ARGS=
	$(VENV)/bin/pytest $(PYTEST_ARGS)

test-unit: venv ## the pure unit tests (tests/unit: no servers, seconds); PYTEST_ARGS=
	GRIDGOV_NO_MONKEY_PATCH=1 $(VENV)/bin/pytest tests/unit $(PYTEST_ARGS)

compose-test: venv ## the docker-compose stack for real: stand-in images, build, up, tests through the proxy, down -v (tests/compose/README.md)
	tests/compose/run.sh

bench: venv env servers app ## run every bench/bench_*.py in order and print their figures
	@shopt -s nullglob; scripts=(bench/bench_*.py); failed=(); \
	if [ $${#scripts[@]} -eq 0 ]; then echo "bench: no bench/bench_*.py yet"; exit 0; fi; \
	$(LOAD_ENV); \
	for f in "$${scripts[@]}"; do \
	  echo "===== $$f"; \
	  $(VPY) "$$f" || { echo "bench: $$f FAILED (exit $$?)"; failed+=("$$f"); }; \
	done; \
	if [ $${#failed[@]} -gt 0 ]; then echo "bench: failed: $${failed[*]}"; exit 1; fi

soak: venv env servers ## long run through the real entrypoints, slopes (MINUTES=40 RATE=5 cases/s; not in bench)
	@$(LOAD_ENV); $(VPY) bench/soak.py --minutes $${MINUTES:-40} --rate $${RATE:-5} \
	  $${AUTOVACUUM:+--autovacuum $$AUTOVACUUM}

faults: venv env servers ## fault injection: SIGKILL services, restart RabbitMQ and PostgreSQL (run alone)
	@$(LOAD_ENV); $(VPY) scripts/fault_injection.py

mutation: venv ## mutation-test the domain core with its unit tests; a score per module (>= 90 %)
	$(VENV)/bin/pip install --disable-pip-version-check -q -r requirements-mutation.txt
	rm -rf mutants
	GRIDGOV_NO_MONKEY_PATCH=1 $(VENV)/bin/mutmut run --max-children $$(nproc)
	$(VPY) scripts/mutation_score.py --min 90

lint: venv ## ruff check .
	$(VENV)/bin/ruff check .

migrate: venv env servers ## create the database if missing and run every service's migrations
	@$(LOAD_ENV) && $(VPY) -m gridgov_common.platform.migrate upgrade

demo: venv env servers ## load the demo district if the registry is empty
	@$(LOAD_ENV) && $(VPY) -m services.registry.cli load-demo --if-empty

demo-history: venv env servers ## load the demo district's six months of history if not yet (docs/DEMO.md)
	@$(LOAD_ENV) && for svc in events dispatch assessment; do \
		$(VPY) -m services.$$svc.demo_history --if-empty || exit 1; done

demo-case: venv env ## follow one case through the running services (after make up)
	@$(LOAD_ENV) && $(VPY) scripts/demo_case.py

simulate: venv env ## a simulated district day against the running services (RATE= cases/min, COUNT=)
	@$(LOAD_ENV) && $(VPY) -m tools.case_simulator --per-minute $${RATE:-6} $${COUNT:+--count $$COUNT}

token: venv env ## print a bearer token (only it, on stdout): ROLE= SCOPE=district:320505 SUB=
	@$(LOAD_ENV) && $(VPY) -m gridgov_common.kernel.auth mint --role $(ROLE) --scope $(SCOPE) --sub $(SUB)

# --- building blocks -------------------------------------------------------------------

deps-up: ## check (and as root install) the Debian packages make up needs
	@scripts/system_deps.sh up

deps-test: ## check (and as root install) the Debian packages the tests need
	@scripts/system_deps.sh test

oidc-provider: ## npm ci in tests/oidc: the real OIDC provider tests/registry/test_oidc.py runs (skipped if unchanged)
	@if [ ! -d tests/oidc/node_modules/oidc-provider ] || \
	    [ tests/oidc/package-lock.json -nt tests/oidc/node_modules/.package-lock.json ]; then \
	  echo "==> npm ci in tests/oidc" >&2; \
	  cd tests/oidc && npm ci --no-audit --no-fund --loglevel=error; \
	else echo "==> tests/oidc/node_modules up to date" >&2; fi

venv: ## create .venv and install requirements-dev.txt + the project (skipped if unchanged)
	@if [ ! -x $(VPY) ] || ! $(VPY) -c 'import sys; assert sys.version_info[:2] == (3, 11)' 2>/dev/null; then \
	  echo "==> creating $(VENV) with $(PYTHON)" >&2; \
	  $(PYTHON) -c 'import sys; assert sys.version_info[:2] == (3, 11), "Python 3.11 needed, this is " + sys.version' \
	    || { echo "make: set PYTHON=/path/to/python3.11"; exit 1; }; \
	  rm -rf $(VENV); $(PYTHON) -m venv $(VENV); \
	fi
	@hash="$(REQ_HASH)"; \
	if [ "$$(cat $(STAMP) 2>/dev/null)" = "$$hash" ]; then \
	  echo "==> $(VENV) up to date (requirements unchanged)" >&2; \
	else \
	  echo "==> installing requirements-dev.txt and the project (editable) into $(VENV)" >&2; \
	  rm -f $(STAMP); \
	  $(VENV)/bin/pip install --disable-pip-version-check -q -r requirements-dev.txt; \
	  $(VENV)/bin/pip install --disable-pip-version-check -q --no-build-isolation --no-deps -e .; \
	  echo "$$hash" > $(STAMP); \
	fi

env: ## generate .env (mode 0600, fresh secrets) if missing; never overwrites
	@$(PYTHON) scripts/gen_env.py >&2

servers: venv env ## start local PostgreSQL/RabbitMQ if down, then check they answer
	@$(LOAD_ENV) && scripts/ensure_services.sh
	@$(LOAD_ENV) && $(VPY) scripts/wait_for.py --timeout 60 "$$GRIDGOV_DB_URL" "$$GRIDGOV_AMQP_URI"

clean: down ## stop services; remove var/ (logs, pids), caches, build files (keeps .venv, .env)
	rm -rf var .pytest_cache .ruff_cache build dist *.egg-info
	find . -path ./.venv -prune -o -name __pycache__ -type d -prune -exec rm -rf {} +

distclean: clean ## clean, and remove .venv too (.env is kept: it holds the data keys)
	rm -rf $(VENV)
	@echo "kept .env on purpose: GRIDGOV_PII_KEY decrypts stored personal data"
