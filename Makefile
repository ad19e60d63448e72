# IP Support Case Manager: `make help` lists every target.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
HOST ?= 127.0.0.1
PORT ?= 8000
DEMO_PASSWORD ?= demo-Pass-2026
# pytest-xdist workers: one per core by default.
WORKERS ?= auto
STAMP := $(VENV)/.installed

.DEFAULT_GOAL := help
.PHONY: help install run migrate seed test test-postgres lint format typecheck \
	schema schema-check client check-deploy migrations-check ci messages bench clean docs-check fuzz

help: ## List every target
	@grep -E '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*## "}; {printf "  \033[36m%-18s\033[0m %s\n", $$1, $$2}'

$(STAMP): requirements.txt requirements-dev.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements-dev.txt
	touch $(STAMP)

install: $(STAMP) ## Create the virtualenv and install pinned dependencies

migrate: install ## Apply database migrations
	$(PY) manage.py migrate --noinput

seed: migrate ## Load demo users, enterprises, a programme and cases (idempotent)
	$(PY) manage.py seed_demo --password '$(DEMO_PASSWORD)'

run: seed ## Install, migrate, seed demo data and serve on http://127.0.0.1:8000
	@DJANGO_DEBUG=$${DJANGO_DEBUG:-1} $(PY) manage.py rundemo $(HOST):$(PORT) --password '$(DEMO_PASSWORD)'

test: install ## Run the whole suite (SQLite by default; set DATABASE_URL for PostgreSQL)
	$(PY) -m pytest -n $(WORKERS) $(PYTEST_ARGS)

test-postgres: ## Run the suite on the local PostgreSQL (postgres@127.0.0.1:5432/test)
	DATABASE_URL=postgres://postgres@127.0.0.1:5432/test $(MAKE) test

lint: install ## ruff lint and format check
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: install ## Apply ruff fixes and formatting
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

typecheck: install ## mypy (strict, django-stubs, drf-stubs)
	$(VENV)/bin/mypy accounts applicants cases partners webhooks api common backend

migrations-check: install ## Fail if models changed without a migration
	$(PY) manage.py makemigrations --check --dry-run

schema: install ## Regenerate docs/openapi.yaml and docs/workflow.md
	$(PY) manage.py spectacular --lang en --validate --fail-on-warn --file docs/openapi.yaml
	$(PY) manage.py workflow_doc > docs/workflow.md

schema-check: install ## Validate the schema (fail on warnings)
	$(PY) manage.py spectacular --lang en --validate --fail-on-warn --file /dev/null

CLIENT ?= build/client
client: install ## Generate a Python client from docs/openapi.yaml into $(CLIENT) (openapi-python-client)
	PATH=$(abspath $(VENV))/bin:$$PATH $(VENV)/bin/openapi-python-client generate --path docs/openapi.yaml \
		--config docs/client/openapi-python-client.yaml --meta setup --output-path $(CLIENT) --overwrite
	@echo "  pip install $(CLIENT)   then: import ip_support_case_manager_api_client"

docs-check: install ## Rerun the examples of docs/api.md, README.md and docs/partners.md on fresh demo data (ports 8000, 8791-8794)
	$(PY) docs/rerun_examples.py

check-deploy: install ## Django's deployment checklist under production settings
	DJANGO_PRODUCTION=1 DJANGO_SECRET_KEY=ci-check-$$(date +%s)-a-long-random-looking-value-for-the-check \
		DJANGO_ALLOWED_HOSTS=example.gov.vn CACHE_URL=redis://127.0.0.1:6379/1 \
		$(PY) manage.py check --deploy --fail-level WARNING

ci: lint typecheck migrations-check schema-check check-deploy test ## Everything CI runs on SQLite

messages: install ## Refresh and compile the Vietnamese catalogue (needs GNU gettext)
	$(PY) manage.py makemessages -l vi --ignore=.venv --ignore=tests --ignore=bench --no-location
	$(PY) manage.py compilemessages -l vi --ignore=.venv

fuzz: install ## schemathesis over a live server on a fresh PostgreSQL database, as applicant, officer and manager
	.ci/schemathesis

bench: install ## Benchmark list/detail/action against a bare values() view (see bench/README.md)
	$(PY) bench/run.py

clean: ## Remove the virtualenv, local database and caches
	rm -rf $(VENV) db.sqlite3* .test-db.sqlite3* .mypy_cache .ruff_cache staticfiles
