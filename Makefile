# BuildCRM: `make run` brings the product up with a demo tenant; `make test` runs everything.
SHELL := /bin/bash
PY := $(CURDIR)/.venv/bin/python
export PATH := $(CURDIR)/.venv/bin:$(PATH)
FRONTEND_SOURCES := $(shell find frontend/src frontend/public -type f 2>/dev/null) \
	$(wildcard frontend/index.html frontend/vite.config.ts frontend/tsconfig*.json)
PYTEST_ARGS ?= -n 2
EXTERNAL_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/postgres
EXTERNAL_REDIS_URL ?= redis://127.0.0.1:6379/0

.PHONY: setup run test test-python test-frontend test-bridge test-external test-api lint lint-imports bench

setup: .venv/.installed frontend/dist/index.html bridge/whatsapp-web/node_modules/.installed

.venv/.installed: requirements.txt requirements-dev.txt
	test -x .venv/bin/python || python3 -m venv .venv
	.venv/bin/pip install -q --upgrade pip
	.venv/bin/pip install -q -r requirements-dev.txt
	touch $@

frontend/node_modules/.installed: frontend/package.json frontend/package-lock.json
	cd frontend && npm ci --no-audit --no-fund --loglevel=error
	touch $@

# The WhatsApp Web bridge's packages; Puppeteer uses Debian's chromium (CHROMIUM_PATH), it downloads no browser.
bridge/whatsapp-web/node_modules/.installed: bridge/whatsapp-web/package.json bridge/whatsapp-web/package-lock.json
	cd bridge/whatsapp-web && PUPPETEER_SKIP_DOWNLOAD=1 npm ci --no-audit --no-fund --loglevel=error
	touch $@

frontend/dist/index.html: frontend/node_modules/.installed $(FRONTEND_SOURCES)
	cd frontend && npm run build

# A development secret for the bridge unless one is set (production sets its own in .env).
run: export BRIDGE_SECRET ?= buildcrm-dev-bridge-secret
run: setup
	$(PY) -m buildcrm.devstack --data .data -- sh -c '\
	  $(PY) manage.py setup_platform --admin-email $${ADMIN_EMAIL:-admin@buildcrm.local} \
	    --admin-password $${ADMIN_PASSWORD:-BuildCRM-admin-2026} && \
	  $(PY) manage.py seed_demo && \
	  exec $(PY) -m buildcrm.devstack procfile Procfile'

test: setup
	$(MAKE) --no-print-directory lint-imports
	$(PY) -m buildcrm.devstack --tmp -- $(MAKE) --no-print-directory test-python
	$(MAKE) --no-print-directory test-frontend
	$(MAKE) --no-print-directory test-bridge

# Browser tests run in a pytest process of their own: Playwright's sync API keeps an event loop running in
# the worker's main thread, which would break the asyncio (websocket) tests scheduled after it.
# The fault tests (tests/faults) start the product as separate processes (their own PostgreSQL, Redis, daphne,
# workers, beat) and kill parts of it: one pytest process, one stack, after the rest.
test-python:
	$(PY) -m pytest $(PYTEST_ARGS) -m "not browser and not faults and not scale"
	$(PY) -m pytest $(PYTEST_ARGS) -m browser
	$(PY) -m pytest -n 0 -m faults tests/faults
	$(PY) -m pytest -n 0 -m scale tests/scale

test-frontend:
	cd frontend && npm test

# The bridge's own tests (node's test runner): its HTTP API with the library's Client faked at its event boundary,
# and one launch of the real whatsapp-web.js with Debian's Chromium up to where it needs the network.
test-bridge:
	cd bridge/whatsapp-web && node --test test/

# The tenant API on its own (also part of `make test`): malformed input for every operation of its OpenAPI schema, and
# Schemathesis against a live daphne server (ST_SEED=<seed> replays a run, ST_MAX_EXAMPLES=<n> examples per operation).
test-api: setup
	$(PY) -m buildcrm.devstack --tmp -- $(PY) -m pytest $(PYTEST_ARGS) tests/api

test-external: setup
	DATABASE_URL=$(EXTERNAL_DATABASE_URL) REDIS_URL=$(EXTERNAL_REDIS_URL) \
	  $(PY) -m buildcrm.devstack -- $(PY) -m pytest $(PYTEST_ARGS) tests/platform

lint: lint-imports
	$(PY) -m ruff check .

# One direction (issue 13): the layers and leaves of .importlinter, no import cycles, no hidden imports between apps.
lint-imports:
	.venv/bin/lint-imports --no-cache
	$(PY) scripts/import_graph.py --check
