# supervision: issues, inspections and notifications services on Kafka and MongoDB.
#
#   make install   Python virtualenv + the local stack's Kafka, PostgreSQL, FerretDB, Prometheus
#   make up        start the local stack (Kafka, PostgreSQL, FerretDB, Prometheus) in the background
#   make run       stack + every service in the foreground; Ctrl-C stops it all
#   make logs      follow the full JSON logs of make run's processes (var/log/)
#   make test      pytest against a throw-away stack of its own (var/test, other ports)
#   make down      stop the local stack       make status   show it
#   make clean     stop it and wipe its state (var/); downloads in .cache/ are kept
#
# The stack's scripts live in deploy/local/ (see docs/local-stack.md).

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help
MAKEFLAGS += --no-builtin-rules

PYTHON ?= python3
VENV := .venv
# Recorded after a successful `pip install`; redone whenever pyproject.toml changes.
VENV_STAMP := $(VENV)/.installed
LOCAL := deploy/local

.PHONY: help install venv up down status run logs test clean demo token docs fuzz bench figures-rebuild

help: ## list the targets
	@grep -hE '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | sort \
		| awk 'BEGIN {FS = ":.*## "}; {printf "  %-12s %s\n", $$1, $$2}'

# ---------------------------------------------------------------------------------------------
# Installation
# ---------------------------------------------------------------------------------------------

install: venv ## virtualenv (when pyproject.toml changed), the stack's components, a headless browser
	@$(LOCAL)/install.sh
	@tools/demo/install_browser.sh >/dev/null

venv: $(VENV_STAMP) ## the Python virtualenv only

$(VENV_STAMP): pyproject.toml
	test -x $(VENV)/bin/python || $(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --disable-pip-version-check -e '.[test,bench]'
	touch $@

# ---------------------------------------------------------------------------------------------
# Local stack (STACK_DIR, KAFKA_PORT, KAFKA_CONTROLLER_PORT, MONGO_PORT, POSTGRES_PORT,
# PROMETHEUS_PORT)
# ---------------------------------------------------------------------------------------------

up: install ## start Kafka, PostgreSQL, FerretDB, Prometheus; wait until healthy; ensure topics
	@$(LOCAL)/stack.sh up

down: ## stop the local stack
	@$(LOCAL)/stack.sh down

status: ## show the local stack's processes and health
	@$(LOCAL)/stack.sh status

run: install ## the stack and all services (deploy/local/Procfile) in the foreground
	@$(LOCAL)/run.sh

# One log per Procfile process, plus the demo load's and the supervisor's, in STACK_DIR/log/.
logs: ## follow the logs of make run's processes (PROCESS=issues-consumer: that one only)
	@cd "$${STACK_DIR:-var}/log" 2>/dev/null || { echo "no logs yet in $${STACK_DIR:-var}/log/: make run first" >&2; exit 1; }; \
	exec tail -n 20 -F $(if $(PROCESS),$(PROCESS).log,$$(sed -n 's/^\([A-Za-z0-9_-]*\):.*/\1.log/p' "$(CURDIR)/$(LOCAL)/Procfile") demo-data.log supervisor.log)

# A stack is a directory under var/ whose run/ holds ports.env or pid files (postgres/run/,
# PostgreSQL's socket directory, holds neither). The data of PostgreSQL belongs to the
# postgres user; root removes it like the rest.
clean: ## stop every stack under var/ and wipe var/ (keeps .cache/ and .venv/)
	@for run in $$(find var -maxdepth 4 -path '*/run/*' \( -name ports.env -o -name '*.pid' \) \
			-printf '%h\n' 2>/dev/null | sort -u); do \
		STACK_DIR="$$(dirname "$$run")" $(LOCAL)/stack.sh down; \
	done
	rm -rf var

# ---------------------------------------------------------------------------------------------
# Tests (PYTEST_ARGS="..." passes arguments to pytest)
# ---------------------------------------------------------------------------------------------

test: ## install, start a test stack (var/test), run pytest, stop the stack
	@$(LOCAL)/test.sh

fuzz: ## the long fuzz run: schemathesis with FUZZ_EXAMPLES (default 500) examples per operation
	@FUZZ_EXAMPLES="$${FUZZ_EXAMPLES:-500}" PYTEST_ARGS="tests/fuzz -p no:logging" $(LOCAL)/test.sh

# ---------------------------------------------------------------------------------------------
# With `make run` going (in another terminal)
# ---------------------------------------------------------------------------------------------

demo: venv ## the story: an unannounced cross-county spot check fails and items reopen by themselves
	@$(VENV)/bin/python -m tools.demo.story

token: venv ## a bearer token: make token ROLE=county_admin COUNTY=330603
	@$(VENV)/bin/python -m shared.auth mint --role "$(ROLE)" $(if $(COUNTY),--county "$(COUNTY)")

bench: venv ## benchmarks against the running stack (see bench/README.md); not part of make test
	@$(VENV)/bin/python -m bench.backbone --events 5000
	@$(VENV)/bin/python -m bench.reopen

figures-rebuild: venv ## count the issues service's kept figures afresh from the items (stop its figures process first)
	@$(VENV)/bin/python -m services.issues.figures rebuild

docs: venv ## regenerate the generated documents (docs/events.md)
	@$(VENV)/bin/python -m tools.events_doc > docs/events.md
