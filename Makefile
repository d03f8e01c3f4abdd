# make run   - the demo on http://127.0.0.1:8000 (SQLite, tasks in-process)
# make test  - lint (ruff, format, mypy), migration check and the whole test suite (PostgreSQL, Redis, Chromium)

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

PYTHON_BOOTSTRAP ?= $(shell command -v python3.11 2>/dev/null || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
PY := $(BIN)/python
# Re-install whenever a requirements file is newer than the last install.
VENV_STAMP := $(VENV)/.requirements-installed

PORT ?= 8000
# Where `make run` collects static files; passed to collectstatic and the server alike.
STATIC_ROOT ?= $(CURDIR)/staticfiles
PYTEST_ARGS ?=
# pytest-xdist: one test process per core. Each has its own test database (pytest-django adds
# _gw0, _gw1 to its name), its own in-memory cache, and starts its servers (live server, Redis,
# Celery worker) on free ports. loadfile keeps a module's tests on one process, so that what a
# module builds once (a server, a worker, a demo) is built once.
PYTEST_WORKERS ?= auto
TEST_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/postgres
TEST_REDIS_URL ?= redis://127.0.0.1:6379/15

# The demo: SQLite under var/ and in-process tasks, whatever the shell has set.
RUN_ENV := env -u DATABASE_URL -u CELERY_BROKER_URL DEBUG=1

# Unit tests run tasks in-process (no CELERY_BROKER_URL, TASKS_IN_PROCESS=1, which
# DEBUG=0 otherwise refuses); the integration tests start their own worker against REDIS_URL.
TEST_ENV := env -u CELERY_BROKER_URL \
	ENV_FILE= \
	DEBUG=0 \
	TASKS_IN_PROCESS=1 \
	SECRET_KEY=test-only-secret-key-not-for-production-use-0123456789abcdef \
	DATABASE_URL=$(TEST_DATABASE_URL) \
	REDIS_URL=$(TEST_REDIS_URL)

SUDO := $(if $(filter 0,$(shell id -u)),,sudo)
APT_GET := $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get

.PHONY: help venv run static services chromium test bench lint fmt clean

help:
	@echo "make run    start the demo at http://127.0.0.1:$(PORT) (SQLite; prints demo logins, scores its photos meanwhile)"
	@echo "make test   lint, migration check and all tests (needs PostgreSQL and Redis on 127.0.0.1)"
	@echo "make bench  benchmarks: scoring, outcome analysis, the demo trial's known answer, the first make run (docs/benchmarks.md)"
	@echo "make lint   ruff check, format check and mypy (pyproject.toml);  make fmt  reformat and fix imports"
	@echo "make clean  remove .venv, var/ and caches"

venv: $(VENV_STAMP)

$(VENV_STAMP): requirements.txt requirements-dev.txt
	test -x $(PY) || $(PYTHON_BOOTSTRAP) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements-dev.txt
	touch $@

# A development .env (git-ignored) so that `python manage.py ...` works in this checkout without
# knowing the environment; settings.py reads it, and never overrides a variable already set.
.env:
	$(PY) scripts/write_dev_env.py

# The server starts as soon as the demo's records and photos are stored; run_demo serves it and
# scores the photos meanwhile, on every core but one. Ctrl-C stops both; the next run resumes.
run: venv .env
	mkdir -p "$${VAR_DIR:-var}"
	$(RUN_ENV) $(PY) manage.py migrate --noinput
	$(RUN_ENV) $(PY) manage.py seed_demo --score-later
	$(MAKE) --no-print-directory static
	$(RUN_ENV) STATIC_MANIFEST=1 STATIC_ROOT="$(STATIC_ROOT)" $(PY) manage.py run_demo 127.0.0.1:$(PORT)

# Hashed, compressed static files, served with year-long cache headers (docs/deployment.md).
# Collecting takes ~20 s, so only when something collected may have changed since the stamp:
# static/, the settings that choose what and how, or a package's static folder (an install or
# upgrade renews the folder's time, a removed file its parent's). The stamp is the manifest of
# hashed names, touched once a collect succeeded; none (after `make clean`, a new STATIC_ROOT): collect.
static:
	@stamp="$(STATIC_ROOT)/staticfiles.json"; \
	if [ ! -e "$$stamp" ] || [ -n "$$( \
		find static trialsite/settings.py trialsite/storage.py requirements.txt -newer "$$stamp" -print -quit; \
		find $(VENV)/lib/ -path '*/site-packages/*/static*' -newer "$$stamp" -print -quit)" ]; then \
		echo "Collecting static files into $(STATIC_ROOT)/"; \
		$(RUN_ENV) STATIC_MANIFEST=1 STATIC_ROOT="$(STATIC_ROOT)" $(PY) manage.py collectstatic --noinput -v0; \
		touch "$$stamp"; \
	else \
		echo "Static files in $(STATIC_ROOT)/ are up to date"; \
	fi

services:
	scripts/ensure_services.sh

# Debian's Chromium for the browser tests (Playwright drives it through
# executable_path; its own browser download cannot work here) and Debian's
# docker-compose, which a test uses to validate docker-compose.yml. Without
# recommends: docker-compose would otherwise pull in a Docker engine.
chromium:
	@missing=""; \
	[ -x /usr/bin/chromium ] || missing="$$missing chromium fonts-liberation"; \
	command -v docker-compose >/dev/null 2>&1 || missing="$$missing docker-compose"; \
	if [ -n "$$missing" ]; then \
		echo "Installing Debian packages:$$missing"; \
		$(APT_GET) update; \
		$(APT_GET) install -y --no-install-recommends $$missing; \
	fi

test: lint services chromium
	$(TEST_ENV) $(PY) manage.py makemigrations --check --dry-run
	$(TEST_ENV) $(BIN)/pytest -n $(PYTEST_WORKERS) --dist loadfile $(PYTEST_ARGS)

# Every benchmark runs even when an earlier one misses a target; the exit status says if any did.
BENCHMARKS := scripts/bench.py scripts/bench_analysis.py scripts/bench_dataset.py scripts/bench_demo.py \
	scripts/bench_first_run.py

bench: venv services
	@status=0; for script in $(BENCHMARKS); do \
		echo "== $$script"; $(TEST_ENV) $(PY) $$script || status=1; \
	done; exit $$status

# mypy's Django plugin loads the settings: the demo's (SQLite, DEBUG) are enough, nothing connects.
lint: venv
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(RUN_ENV) $(BIN)/mypy

fmt: venv
	$(BIN)/ruff check --fix --select I .
	$(BIN)/ruff format .

clean:
	rm -rf $(VENV) var .pytest_cache .ruff_cache .mypy_cache staticfiles test-artifacts
	find . -path ./.git -prune -o -type d -name __pycache__ -prune -exec rm -rf {} +
