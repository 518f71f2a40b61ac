# graph-cmdb: `make demo` shows it, `make test` proves it. Everything runs from .venv.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
CMDB := $(VENV)/bin/cmdb
# Reinstall only when pyproject.toml changes: repeated runs cost nothing.
STAMP := $(VENV)/.installed-stamp
# Browser libraries (GraphiQL, Cytoscape) come from npm at build time and are served by
# the app as static files: nothing loads from a CDN at run time.
VENDOR := cmdb/api/static/vendor
ASSETS := $(VENDOR)/.assets-stamp
DEMO_DB := .cmdb/demo.db
DEMO := COLUMNS=$${COLUMNS:-120} $(CMDB) --db $(DEMO_DB)
BENCH_ARGS ?= --sizes 10k

.PHONY: install test test-services lint demo bench neo4j-up neo4j-down

install: $(STAMP) $(ASSETS)

$(ASSETS): ui/package.json ui/package-lock.json
	@echo "installing the browser assets from npm into $(VENDOR) (log: ui/npm.log)"
	@npm ci --prefix ui --no-audit --no-fund >ui/npm.log 2>&1 || { cat ui/npm.log >&2; exit 1; }
	@mkdir -p $(VENDOR)
	@cp ui/node_modules/react/umd/react.production.min.js \
		ui/node_modules/react-dom/umd/react-dom.production.min.js \
		ui/node_modules/cytoscape/dist/cytoscape.min.js $(VENDOR)/
	@cp ui/node_modules/graphiql/dist/index.umd.js $(VENDOR)/graphiql.min.js
	@cp ui/node_modules/graphiql/dist/style.css $(VENDOR)/graphiql.min.css
	@touch $@

$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	@$(PY) -c 'import sys; sys.exit(sys.version_info < (3, 11))' \
		|| { echo "graph-cmdb needs Python >= 3.11; $(PY) is older (remove $(VENV))" >&2; exit 1; }
	@echo "installing graph-cmdb and its dev tools into $(VENV) (log: $(VENV)/pip.log)"
	@$(PY) -m pip install -q --disable-pip-version-check -e '.[dev]' >$(VENV)/pip.log 2>&1 \
		|| { cat $(VENV)/pip.log >&2; exit 1; }
	@touch $@

# The Neo4j tests run against a real Neo4j 5.26: its launcher is built here (Maven, once;
# ~/.m2 caches the jars), and the test session starts and stops the server itself
# (tests/conftest.py: NEO4J_URI if set, else Docker if it answers, else this launcher).
test-services: install
	@$(PY) -m cmdb.store.neo4j.local_server build

# A local Neo4j in the background for using the CLI against a real server by hand.
neo4j-up: install
	@$(PY) -m cmdb.store.neo4j.local_server up
	@echo "# export these (e.g. eval \"\$$(make -s neo4j-up)\"), then: $(CMDB) db migrate" >&2

neo4j-down: install
	@$(PY) -m cmdb.store.neo4j.local_server down

test: install test-services
	$(PY) -m pytest -q

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy

demo: install
	@rm -f $(DEMO_DB) $(DEMO_DB)-wal $(DEMO_DB)-shm
	@echo "== Load the sample estate (Saltmarsh Ferries, a fictional ferry operator) into $(DEMO_DB)"
	@$(DEMO) sample load
	@echo; echo "== What the CMDB holds"
	@$(DEMO) counts
	@echo; echo "== The services (customer-facing and supporting)"
	@$(DEMO) ci list --class Service
	@echo; echo "== One relationship away from the online booking service"
	@$(DEMO) neighbours "Online Ferry Booking"
	@echo; echo "== What sits on the app cluster, up to the services (runs on, contained by)"
	@$(DEMO) subgraph harbour-app-cluster --direction in --depth 3 --type runs_on --type contains
	@echo; echo "== A change by hand: srv-01 goes under change (same natural key: no duplicate)"
	@$(DEMO) ci add --class Server --name srv-01 --status under_change --attr ticket=RFC-2026-0042 >/dev/null
	@$(DEMO) history srv-01
	@echo
	@echo "Try next (the demo store stays in $(DEMO_DB)):"
	@echo "  $(CMDB) --db $(DEMO_DB) impact incident --ci srv-01   # the cluster loses quorum"
	@echo "  $(CMDB) --db $(DEMO_DB) impact spof \"Online Ferry Booking\""
	@echo "  $(CMDB) --db $(DEMO_DB) ci show serial=IBX7-40118"
	@echo "  $(CMDB) --db $(DEMO_DB) neighbours srv-01 --direction in   # two of the three cluster VMs"
	@echo "  $(CMDB) --db $(DEMO_DB) history srv-01 --as-of <a time from the table above>"
	@echo "  $(CMDB) --db $(DEMO_DB) rel add bookings-db \"runs on\" vm-db-02 --json"
	@echo "  $(CMDB) --db $(DEMO_DB) export /tmp/cmdb.jsonl && $(CMDB) --db /tmp/copy.db import /tmp/cmdb.jsonl"
	@echo "  $(CMDB) --help"

bench: install
	$(PY) bench/store.py $(BENCH_ARGS)
