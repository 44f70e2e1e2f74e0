# The two commands: `make run` and `make test`. Everything else is a helper.
SHELL := /bin/bash
VENV := .venv
PY := $(VENV)/bin/python
PORT ?= 8000
WEB_WORKERS ?= 3

.PHONY: chaos run test test-second-storage system-packages lint format lock lock-check upgrade bench load security audit-deps setup migrate clean screenshots

# PYTHON_VERSION=3.12 picks that minor version (CI's second run); by default the newest >= 3.12.
$(VENV)/.created: requirements-pip.txt
	@PYTHON=$$(.ci/find-python.sh $(PYTHON_VERSION)) && echo "Using $$PYTHON" && "$$PYTHON" -m venv $(VENV)
	$(PY) -m pip install --quiet --require-hashes -r requirements-pip.txt
	@touch $@

# Installs come only from the hash-pinned locks (generated from pyproject.toml by
# `make upgrade`), so every machine gets the same packages; a lock change reinstalls.
$(VENV)/.installed: $(VENV)/.created requirements.txt
	$(PY) -m pip install --quiet --require-hashes -r requirements.txt
	@touch $@

$(VENV)/.installed-dev: $(VENV)/.installed requirements-dev.txt
	$(PY) -m pip install --quiet --require-hashes -r requirements-dev.txt
	@touch $@

setup: $(VENV)/.installed
	$(PY) manage.py migrate --noinput >&2
	$(PY) manage.py createcachetable
	$(PY) manage.py collectstatic --noinput --verbosity 0
	$(PY) manage.py ensure_admin >&2
	@# The Ed25519 key the worker signs the audit trail's checkpoints with (var/, mode 600).
	$(PY) manage.py audit_keys --if-missing

## Set up (venv, migrations, static files, first admin) and serve web + worker + audit sealer.
run: setup
	@# On stderr, as everything but the audit stream (AUDIT_STREAM=stdout makes stdout its own).
	@echo "Serving http://127.0.0.1:$(PORT)/  (Ctrl-C stops the web server, the worker and the audit sealer)" >&2
	@# The supervisor restarts a web server or worker that dies, and says so; the new
	@# worker takes back a task the dead one left half-read after OCR_STALE_AFTER_SECONDS.
	@$(PY) -m ocr_project.supervisor --port $(PORT) --web-workers $(WEB_WORKERS)

## Run the whole test suite (on PostgreSQL when DATABASE_URL points there). It installs the
## system packages the browser tests need when it may (root or passwordless sudo); when the
## browser tests still cannot run it stops saying why, unless BROWSER_TESTS=0 leaves them out.
## Tests for the other database are deselected and counted in the closing lines.
test: $(VENV)/.installed-dev
	@.ci/system-packages.sh --if-possible
	$(PY) manage.py check --fail-level WARNING
	$(PY) manage.py makemigrations --check --dry-run
	$(PY) -m pytest

## The suites that touch files once more on Django's InMemoryStorage, which has no local
## paths: code that reached MEDIA_ROOT with os/shutil instead of the Storage API fails here.
## Browser tests and the worker-kill test are left out: their servers and workers are other
## processes, and an in-memory storage is not shared between processes.
test-second-storage: $(VENV)/.installed-dev
	FILE_STORAGE_BACKEND=django.core.files.storage.InMemoryStorage BROWSER_TESTS=0 \
	  $(PY) -m pytest -q --ignore=tasks/tests/test_worker_kill.py \
	  tasks tests/test_atomicity.py tests/test_hostile.py tests/test_headers.py

## Install the Debian packages the test suite needs (chromium, a CJK font), as root or with sudo.
system-packages:
	@.ci/system-packages.sh

## Run the browser tests and copy the main screenshots to docs/screenshots/ for the README.
screenshots: $(VENV)/.installed-dev
	DOC_SCREENSHOTS=1 $(PY) -m pytest -m browser -q

## ruff (lint + format), mypy with the Django and DRF stubs (cache in .mypy_cache/), the
## import contracts and the module size bound.
lint: $(VENV)/.installed-dev
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy .
	@# The import contracts of pyproject.toml: app layering, no cycle inside an app, no
	@# Django or project import in the offline verifier.
	$(VENV)/bin/lint-imports
	@# No module of the project's own code over 450 lines (tests and migrations aside).
	$(PY) .ci/module-size.py

format: $(VENV)/.installed-dev
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

## Rewrite the three locks from pyproject.toml, keeping every pin that still fits (after
## adding or changing a dependency). Hashes cover every file of every pinned package, so the
## locks install on any Python >= 3.12 and platform. The runtime lock is constrained by the
## dev lock, and the S3 lock (runtime + the `s3` extra, for multi-host deployments) by the
## runtime lock, so they never disagree.
UV_COMPILE := $(VENV)/bin/uv pip compile pyproject.toml --python $(PY) --universal --generate-hashes \
	--custom-compile-command 'make lock' --quiet
# The bench's peers, locked with hashes against the runtime lock: django-easy-audit for the
# admin changelist figure, django-auditlog and django-easy-audit for the request overhead one,
# OCRmyPDF for the OCR figures.
UV_BENCH_COMPILE = $(VENV)/bin/uv pip compile bench/requirements-$(1).in --python $(PY) \
	--universal --generate-hashes --custom-compile-command 'make lock' --quiet
# The installer, pinned as the dev lock pins it (pip-audit needs pip): a venv starts with
# the pip its Python shipped, and 3.12.1's (23.2.1) refused the dev lock with hashes.
pip_pin = awk '/^pip==/{p=1;print;next} p&&/^ +--hash/{print;next} p{exit}' $(1)
PIP_LOCK_HEADER = "\# The installer, hash-pinned as requirements-dev.txt pins it; written by make lock."
lock: $(VENV)/.installed-dev
	$(UV_COMPILE) --group dev $(UPGRADE) -o requirements-dev.txt
	{ echo $(PIP_LOCK_HEADER); $(call pip_pin,requirements-dev.txt); } > requirements-pip.txt
	$(UV_COMPILE) -c requirements-dev.txt -o requirements.txt
	$(UV_COMPILE) --extra s3 -c requirements.txt -o requirements-s3.txt
	$(call UV_BENCH_COMPILE,easyaudit) -c requirements.txt -o bench/requirements-easyaudit.txt
	$(call UV_BENCH_COMPILE,peers) -c requirements.txt -o bench/requirements-peers.txt
	$(call UV_BENCH_COMPILE,ocrmypdf) -c requirements.txt -o bench/requirements-ocrmypdf.txt
	$(PY) -m pip install --quiet --require-hashes -r requirements-dev.txt
	@touch $(VENV)/.installed $(VENV)/.installed-dev
	@echo "Locks written: review 'git diff requirements*.txt', run make lint and make test, commit."

## Fail when pyproject.toml changed without make lock (CI runs this): re-lock into a
## scratch copy and compare the pins and hashes (comments name the scratch path).
pins = grep -v '^ *\#' $(1)
lock-check: $(VENV)/.installed-dev
	@tmp=$$(mktemp -d) && cp requirements.txt requirements-dev.txt requirements-s3.txt "$$tmp"/ && \
	$(UV_COMPILE) --group dev -o "$$tmp/requirements-dev.txt" && \
	$(UV_COMPILE) -c "$$tmp/requirements-dev.txt" -o "$$tmp/requirements.txt" && \
	$(UV_COMPILE) --extra s3 -c "$$tmp/requirements.txt" -o "$$tmp/requirements-s3.txt" && \
	if diff -u <($(call pins,requirements-dev.txt)) <($(call pins,$$tmp/requirements-dev.txt)) && \
	   diff -u <($(call pins,requirements.txt)) <($(call pins,$$tmp/requirements.txt)) && \
	   diff -u <($(call pins,requirements-s3.txt)) <($(call pins,$$tmp/requirements-s3.txt)) && \
	   diff -u <($(call pins,requirements-pip.txt)) <($(call pip_pin,$$tmp/requirements-dev.txt)); then \
	  echo "Locks match pyproject.toml."; rm -rf "$$tmp"; \
	else echo "The locks do not match pyproject.toml: run make lock and commit all four." >&2; \
	  rm -rf "$$tmp"; exit 1; fi

## Move every package to the newest version pyproject.toml allows, then as make lock.
upgrade:
	$(MAKE) lock UPGRADE=--upgrade

clean:
	rm -rf var/test-db.sqlite3* .pytest_cache

## Seed throwaway SQLite + PostgreSQL databases and measure (BENCH_ARGS="--quick" for a short run).
bench: $(VENV)/.installed-dev
	@.ci/system-packages.sh --bench
	$(PY) bench/bench.py $(BENCH_ARGS)

## Real gunicorn on fresh SQLite and PostgreSQL databases: no audit event lost (LOAD_ARGS="--quick").
load: $(VENV)/.installed-dev
	$(PY) bench/load.py --database both $(LOAD_ARGS)

## As root: the README's deployment in network namespaces (2 web, 2 worker, PostgreSQL, moto's
## S3, haproxy with TLS), under load, through a web host cut, the sealing worker host cut,
## two PostgreSQL restarts, a full staging disk and a clock step; prints the table.
chaos: $(VENV)/.installed-dev
	$(PY) -m pip install --quiet --require-hashes -r requirements-s3.txt
	$(PY) -m bench.chaos

## The audit trail's "Done when" report: load, tamper, hostile-input and secrets checks, both databases.
security: $(VENV)/.installed-dev
	$(PY) bench/security_report.py

## Look every package of the three locks up in pip-audit's vulnerability database. Fails
## closed: exit 2 and "NOT CHECKED" when the database cannot be reached (README).
audit-deps: $(VENV)/.installed-dev
	$(PY) .ci/audit-deps.py

## As root: in a bare Debian root (cached in var/fresh-root/; FRESH_CHECK_REBUILD=1 builds it
## again), clone HEAD and run make test and make run; FRESH_CHECK_POSTGRES=1 adds PostgreSQL.
.PHONY: fresh-check
fresh-check:
	.ci/fresh-check.sh
