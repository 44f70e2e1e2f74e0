# The two commands: `make run` and `make test`. Everything else is a helper.
SHELL := /bin/bash
VENV := .venv
PY := $(VENV)/bin/python
PORT ?= 8000
WEB_WORKERS ?= 3

.PHONY: run test lint format bench load security setup migrate clean screenshots

$(VENV)/.created:
	@PYTHON=$$(.ci/find-python.sh) && echo "Using $$PYTHON" && "$$PYTHON" -m venv $(VENV)
	@$(PY) -m pip install --quiet --upgrade pip
	@touch $@

$(VENV)/.installed: $(VENV)/.created requirements.txt
	$(PY) -m pip install --quiet -r requirements.txt
	@touch $@

$(VENV)/.installed-dev: $(VENV)/.installed requirements-dev.txt
	$(PY) -m pip install --quiet -r requirements-dev.txt
	@touch $@

setup: $(VENV)/.installed
	$(PY) manage.py migrate --noinput
	$(PY) manage.py createcachetable
	$(PY) manage.py collectstatic --noinput --verbosity 0
	$(PY) manage.py ensure_admin

## Set up (venv, migrations, static files, first admin) and serve web + worker + audit sealer.
run: setup
	@echo "Serving http://127.0.0.1:$(PORT)/  (Ctrl-C stops the web server, the worker and the audit sealer)"
	@# The supervisor restarts a web server or worker that dies, and says so; the new
	@# worker takes back a task the dead one left half-read after OCR_STALE_AFTER_SECONDS.
	@$(PY) -m ocr_project.supervisor --port $(PORT) --web-workers $(WEB_WORKERS)

## Run the whole test suite (on PostgreSQL when DATABASE_URL points there).
## The browser tests need /usr/bin/chromium; without it they are skipped, and said so.
test: $(VENV)/.installed-dev
	$(PY) manage.py check --fail-level WARNING
	$(PY) manage.py makemigrations --check --dry-run
	@[ -x /usr/bin/chromium ] || echo "NOTE: /usr/bin/chromium not found: browser tests will be SKIPPED (apt-get install chromium)."
	$(PY) -m pytest
	@[ -x /usr/bin/chromium ] || echo "NOTE: browser tests were SKIPPED: /usr/bin/chromium not found."

## Run the browser tests and copy the main screenshots to docs/screenshots/ for the README.
screenshots: $(VENV)/.installed-dev
	DOC_SCREENSHOTS=1 $(PY) -m pytest -m browser -q

lint: $(VENV)/.installed-dev
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: $(VENV)/.installed-dev
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

clean:
	rm -rf var/test-db.sqlite3* .pytest_cache

## Seed throwaway SQLite + PostgreSQL databases and measure (BENCH_ARGS="--quick" for a short run).
bench: $(VENV)/.installed-dev
	$(PY) bench/bench.py $(BENCH_ARGS)

## Real gunicorn on fresh SQLite and PostgreSQL databases: no audit event lost (LOAD_ARGS="--quick").
load: $(VENV)/.installed-dev
	$(PY) bench/load.py --database both $(LOAD_ARGS)

## The audit trail's "Done when" report: load, tamper, hostile-input and secrets checks, both databases.
security: $(VENV)/.installed-dev
	$(PY) bench/security_report.py
