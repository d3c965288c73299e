# The two commands a newcomer needs: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8000
# Daphne processes for `make run`; empty: one per core.
export WORKERS ?=
# `make run` is for a local machine: debug on unless you say otherwise.
export DJANGO_DEBUG ?= 1

.PHONY: run test venv install migrate lint format browser-deps services bench simulator screenshots clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(VENV)/.installed: $(BIN)/python requirements.txt requirements-dev.txt
	$(BIN)/pip install --quiet -r requirements-dev.txt
	touch $@

venv install: $(VENV)/.installed

migrate: install
	$(BIN)/python manage.py migrate --noinput

# One daphne process per core (WORKERS=N to choose), sharing a local redis-server
# and the database; recover_replies runs first (chatsite/launcher.py).
run: migrate
	$(BIN)/python manage.py collectstatic --noinput --verbosity 0
	$(BIN)/python -m chatsite.launcher --host $(HOST) --port $(PORT)

# Debian's chromium (Playwright browser tests), redis-server (the two-process test)
# and postgresql (the database tests run again on it); installed with apt-get when
# missing and we are root.
browser-deps services:
	@bash scripts/ensure-system-deps

# The tests that touch the database, run again on PostgreSQL (the multi-machine engine).
DB_TESTS := tests/test_models.py tests/test_services.py tests/test_group_commit.py tests/test_consumers.py \
	tests/test_views.py tests/test_accounts.py tests/test_admin.py tests/test_frames.py \
	tests/test_review.py tests/test_review_admin.py tests/test_speech_clips.py tests/test_speech_views.py \
	tests/test_search.py tests/test_history_api.py tests/test_export_import.py

test: install browser-deps
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	node --test tests/js/
	$(BIN)/python -m pytest
	scripts/with-postgres $(BIN)/python -m pytest -p no:cacheprovider $(DB_TESTS)

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: install
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

simulator: install
	$(BIN)/python manage.py minimax_simulator --port 8765

bench: install
	$(BIN)/python -m bench
	DJANGO_SETTINGS_MODULE=tests.settings $(BIN)/python -m bench.speech_bench

# The README's pictures, taken from a live server (the built-in simulator) with chromium.
screenshots: install browser-deps
	$(BIN)/python scripts/screenshots

clean:
	rm -rf $(VENV) staticfiles .pytest_cache .ruff_cache
