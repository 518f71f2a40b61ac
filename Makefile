# graph-cmdb: `make demo` shows it, `make test` proves it. Everything runs from .venv.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
CMDB := $(VENV)/bin/cmdb
# Reinstall only when pyproject.toml changes: repeated runs cost nothing.
STAMP := $(VENV)/.installed-stamp
# Browser libraries (GraphiQL, Cytoscape, Swagger UI, ReDoc) come from npm and are served by
# the app as static files: nothing loads from a CDN at run time. The built files are
# committed (cmdb/web/static/vendor, package data), so a machine without npm runs the demo;
# `assets` refreshes them with npm only when ui/package-lock.json changed since they were
# built (devsupport/ui_assets.py compares the lock's digest, not file times).
DEMO_DB := .cmdb/demo.db
DEMO := COLUMNS=$${COLUMNS:-120} $(CMDB) --db $(DEMO_DB)
BENCH_ARGS ?= --sizes 10k
# Python caches compiled modules (__pycache__, git-ignored): an environment that turns that
# off (PYTHONDONTWRITEBYTECODE) would make every pytest process, xdist worker and `cmdb`
# the tests start compile the project and rewrite the test modules' asserts again (about
# 6 s of collection per pytest process, 0.4 s per `cmdb` process).
unexport PYTHONDONTWRITEBYTECODE

.PHONY: install assets test test-quick test-services test-browser test-prometheus test-alertmanager test-nginx lint docs demo serve bench neo4j-up neo4j-down

install: $(STAMP) assets

assets:
	@$(PYTHON) -m devsupport.ui_assets

# --no-compile: pip would compile every installed module to bytecode (about a third of a
# fresh install here); Python compiles what is imported instead, once, on first import.
$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	@$(PY) -c 'import sys; sys.exit(sys.version_info < (3, 11))' \
		|| { echo "graph-cmdb needs Python >= 3.11; $(PY) is older (remove $(VENV))" >&2; exit 1; }
	@echo "installing graph-cmdb and its dev tools into $(VENV) (log: $(VENV)/pip.log)"
	@$(PY) -m pip install -q --disable-pip-version-check --no-compile -e '.[dev]' >$(VENV)/pip.log 2>&1 \
		|| { cat $(VENV)/pip.log >&2; exit 1; }
	@touch $@

# The Neo4j tests run against a real Neo4j 5.26: its launcher is built here (Maven, once;
# ~/.m2 caches the jars), and the test session starts and stops the server itself
# (tests/conftest.py: NEO4J_URI if set, else Docker if it answers, else this launcher).
test-services: install
	@$(PY) -m devsupport.neo4j_local build

# A local Neo4j in the background for using the CLI against a real server by hand.
neo4j-up: install
	@$(PY) -m devsupport.neo4j_local up
	@echo "# export these (e.g. eval \"\$$(make -s neo4j-up)\"), then: $(CMDB) db migrate" >&2

neo4j-down: install
	@$(PY) -m devsupport.neo4j_local down

# The browser test (tests/e2e) drives Debian's chromium through Playwright; a fresh machine
# lacks it, so it is installed here (as root, or with sudo). Locally the test skips with a
# reason when it is missing; in CI (CI set) it fails instead.
test-browser:
	@command -v chromium >/dev/null 2>&1 || { \
		if [ "$$(id -u)" = 0 ]; then SUDO=; elif command -v sudo >/dev/null 2>&1; then SUDO="sudo -n"; \
		else echo "chromium is missing and this is not root: apt-get install -y chromium" >&2; exit 0; fi; \
		mkdir -p build; echo "installing Debian's chromium for the browser test (log: build/apt.log)"; \
		export DEBIAN_FRONTEND=noninteractive; \
		$$SUDO apt-get install -y --no-install-recommends chromium >build/apt.log 2>&1 \
		|| { $$SUDO apt-get update >>build/apt.log 2>&1 \
			&& $$SUDO apt-get install -y --no-install-recommends chromium >>build/apt.log 2>&1; } \
		|| { cat build/apt.log >&2; exit 1; }; }

# The Prometheus test (tests/e2e/test_prometheus.py) runs Debian's prometheus binary on
# 127.0.0.1 with its own config and a temporary TSDB (never the system service); a fresh
# machine lacks it, so it is installed here as chromium is above. Locally the test skips
# with a reason when it is missing; in CI (CI set) it fails instead.
test-prometheus:
	@command -v prometheus >/dev/null 2>&1 || { \
		if [ "$$(id -u)" = 0 ]; then SUDO=; elif command -v sudo >/dev/null 2>&1; then SUDO="sudo -n"; \
		else echo "prometheus is missing and this is not root: apt-get install -y prometheus" >&2; exit 0; fi; \
		mkdir -p build; echo "installing Debian's prometheus for the metrics test (log: build/apt-prometheus.log)"; \
		export DEBIAN_FRONTEND=noninteractive; \
		$$SUDO apt-get install -y --no-install-recommends prometheus >build/apt-prometheus.log 2>&1 \
		|| { $$SUDO apt-get update >>build/apt-prometheus.log 2>&1 \
			&& $$SUDO apt-get install -y --no-install-recommends prometheus >>build/apt-prometheus.log 2>&1; } \
		|| { cat build/apt-prometheus.log >&2; exit 1; }; }

# The Alertmanager test (tests/e2e/test_alertmanager.py) runs Debian's alertmanager
# (prometheus-alertmanager) on 127.0.0.1, clustering off, with its own config and storage
# (never the system service), installed here as prometheus is above.
test-alertmanager:
	@command -v prometheus-alertmanager >/dev/null 2>&1 || command -v alertmanager >/dev/null 2>&1 || { \
		if [ "$$(id -u)" = 0 ]; then SUDO=; elif command -v sudo >/dev/null 2>&1; then SUDO="sudo -n"; \
		else echo "alertmanager is missing and this is not root: apt-get install -y prometheus-alertmanager" >&2; exit 0; fi; \
		mkdir -p build; echo "installing Debian's prometheus-alertmanager for the alerts test (log: build/apt-alertmanager.log)"; \
		export DEBIAN_FRONTEND=noninteractive; \
		$$SUDO apt-get install -y --no-install-recommends prometheus-alertmanager >build/apt-alertmanager.log 2>&1 \
		|| { $$SUDO apt-get update >>build/apt-alertmanager.log 2>&1 \
			&& $$SUDO apt-get install -y --no-install-recommends prometheus-alertmanager >>build/apt-alertmanager.log 2>&1; } \
		|| { cat build/apt-alertmanager.log >&2; exit 1; }; }

# The proxy test (tests/e2e/test_nginx_proxy.py) runs Debian's nginx on 127.0.0.1 with
# docker/nginx.conf in front of two cmdb serve processes (its own prefix, pid and logs;
# never the system service), installed here as prometheus is above.
test-nginx:
	@command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ] || { \
		if [ "$$(id -u)" = 0 ]; then SUDO=; elif command -v sudo >/dev/null 2>&1; then SUDO="sudo -n"; \
		else echo "nginx is missing and this is not root: apt-get install -y nginx" >&2; exit 0; fi; \
		mkdir -p build; echo "installing Debian's nginx for the proxy test (log: build/apt-nginx.log)"; \
		export DEBIAN_FRONTEND=noninteractive; \
		$$SUDO apt-get install -y --no-install-recommends nginx >build/apt-nginx.log 2>&1 \
		|| { $$SUDO apt-get update >>build/apt-nginx.log 2>&1 \
			&& $$SUDO apt-get install -y --no-install-recommends nginx >>build/apt-nginx.log 2>&1; } \
		|| { cat build/apt-nginx.log >&2; exit 1; }; }

# Every test, slow trials and fuzzing included, as two pytest runs at once (tests/run_suite.py):
# the Neo4j tests in one process on the one server it starts and stops (log:
# build/test-neo4j.log), the rest under pytest-xdist with TEST_WORKERS workers.
TEST_WORKERS ?= 2
test: install test-services test-browser test-prometheus test-alertmanager test-nginx
	@$(PY) -m compileall -q -j 2 cmdb discovery impact devsupport >/dev/null
	$(PY) -m tests.run_suite --workers $(TEST_WORKERS)

# The same without the `slow` and `fuzz` marks (a few minutes): for the edit-test loop.
test-quick: install test-services
	@$(PY) -m compileall -q -j 2 cmdb discovery impact devsupport >/dev/null
	$(PY) -m tests.run_suite --quick --workers $(TEST_WORKERS)

# Style, types, and the layering (import-linter contracts in pyproject.toml).
lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy
	$(VENV)/bin/lint-imports

# The docs site (mkdocs-material, mkdocs.yml) into build/site, strict: a broken link or
# anchor, or a page left out of the nav, fails. The reference pages (CLI, settings, model,
# REST, GraphQL) are generated from the code at every build by docs/hooks.py.
docs: install
	@NO_MKDOCS_2_WARNING=1 $(VENV)/bin/mkdocs build --strict --quiet
	@echo "docs: build/site/index.html"

# The demo's maintenance window: tomorrow (UTC) 10:00-10:45, so it is always ahead of now,
# inside the services' hours, and in this week's schedule of changes on the landing page.
DEMO_DAY := $(shell $(PYTHON) -c 'import datetime as d; print(d.datetime.now(d.timezone.utc).date() + d.timedelta(days=1))')
DEMO_START := $(DEMO_DAY)T10:00:00Z
DEMO_END := $(DEMO_DAY)T10:45:00Z
DEMO_URL := http://127.0.0.1:8000

demo: install
	@rm -f $(DEMO_DB) $(DEMO_DB)-wal $(DEMO_DB)-shm
	@echo "== Saltmarsh Ferries (a fictional ferry operator) through the discovery adapters into $(DEMO_DB)"
	@$(DEMO) sample load --via-discovery
	@echo; echo "== What the CMDB holds"
	@$(DEMO) counts
	@echo; echo "== The services (customer-facing and supporting)"
	@$(DEMO) ci list --class Service
	@echo; echo "== srv-01, one CI seen by nmap, Ansible and the service catalogue"
	@$(DEMO) ci show srv-01
	@echo; echo "== What sits on the app cluster, up to the services (runs on, contains)"
	@$(DEMO) subgraph harbour-app-cluster --direction in --depth 3 --type runs_on --type contains
	@echo; echo "== Impact: srv-01 goes down for maintenance, $(DEMO_START) to $(DEMO_END)"
	@$(DEMO) impact change --ci srv-01 --start $(DEMO_START) --end $(DEMO_END)
	@echo; echo "== The same window as a request for change, assessed by the practice policy"
	@$(DEMO) change create RFC-1 --title "Firmware on srv-01" --ci srv-01 \
		--start $(DEMO_START) --end $(DEMO_END) \
		--reason "BMC security fix" --backout "flash the previous image" >/dev/null
	@$(DEMO) change assess RFC-1
	@echo; echo "== A change by hand: srv-01 goes under change (found by its serial: no duplicate)"
	@$(DEMO) ci add --class Server --name srv-01 --identifier serial=IBX7-40117 \
		--status under_change --attr ticket=RFC-1 >/dev/null
	@$(DEMO) history srv-01
	@echo
	@echo "== Open these (the server starts below, local development mode: NO AUTHENTICATION)"
	@echo "  service desk  $(DEMO_URL)/ui   the services now (open incidents, SLA budget left this"
	@echo "                month), RFC-1 in this week's changes, the CMDB's health"
	@echo "  a CI          $(DEMO_URL)/ui/ci/srv-01   who set each field, its history (slide back"
	@echo "                before it went under change), then 'Fail it now': both customer-facing"
	@echo "                services go down (srv-01 hosts two of the cluster's three VMs); 'see it on the map'"
	@echo "  a change      $(DEMO_URL)/ui/changes/RFC-1   its assessment and the SLAs its window breaches"
	@echo "  impact map    $(DEMO_URL)/ui/map   search 'srv-01' (the server, listed first), 'fail it', Run impact"
	@echo "  GraphiQL      $(DEMO_URL)/graphql"
	@echo "  OpenAPI docs  $(DEMO_URL)/docs   and ReDoc at $(DEMO_URL)/redoc"
	@echo
	@echo "== Try, from another terminal"
	@echo "  curl -s '$(DEMO_URL)/api/v1/status/services'"
	@echo "  curl -s '$(DEMO_URL)/api/v1/cis?name_contains=srv&limit=5'"
	@echo "  curl -s -X POST $(DEMO_URL)/api/v1/impact/change -H 'content-type: application/json' \\"
	@echo "       -d '{\"cis\": [\"srv-01\"], \"start\": \"$(DEMO_START)\", \"end\": \"$(DEMO_END)\"}'"
	@echo "  curl -s '$(DEMO_URL)/api/v1/impact/spof/Online%20Ferry%20Booking'"
	@echo "  curl -s -X POST $(DEMO_URL)/graphql -H 'content-type: application/json' \\"
	@echo "       -d '{\"query\": \"{ __schema { queryType { fields { name } } } }\"}'"
	@echo "  $(CMDB) --db $(DEMO_DB) impact incident --ci bookings-db   # no standby: both apps down"
	@echo "  $(CMDB) --db $(DEMO_DB) impact spof \"Online Ferry Booking\""
	@echo "  $(CMDB) --db $(DEMO_DB) impact cause --ci \"Online Ferry Booking\" --ci \"Boarding Pass App API\"   # the release just before both incidents"
	@echo "  $(CMDB) --db $(DEMO_DB) runs list"
	@echo "  $(CMDB) --db $(DEMO_DB) neighbours srv-01 --direction in   # two of the three cluster VMs"
	@echo "  $(CMDB) --db $(DEMO_DB) problem log PRB-1 --title 'pool exhausted' --ci bookings-db --workaround 'restart pgbouncer'"
	@echo "  $(CMDB) --db $(DEMO_DB) problem similar identity-db --text 'too many connections'"
	@echo "  $(CMDB) --db $(DEMO_DB) incident open INC-1 --title 'bookings fail' --ci bookings-db   # shows the known error"
	@echo "  $(CMDB) --db $(DEMO_DB) report problems"
	@echo "  $(CMDB) --help"
	@echo
	@CMDB_AUTH_DISABLED=true $(DEMO) serve --host 127.0.0.1 --port 8000

# The API on the configured store (CMDB_* settings; tokens required unless CMDB_AUTH_DISABLED).
serve: install
	@$(CMDB) serve

# The quick benchmarks (a few minutes); bench/README.md lists them all with their latest
# tables. The peer comparison (bench/peer_cartography.py) and the 100k sizes take longer.
bench: install
	$(PY) bench/cli_start.py
	$(PY) bench/readers.py --sizes 20k --baseline-repeat 1
	$(PY) bench/store.py $(BENCH_ARGS)
