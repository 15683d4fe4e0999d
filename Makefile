# Nova Corrente data platform. `make help` lists the targets.
# Everything runs from .venv (built from the pinned requirements.txt) against the platform's own
# PostgreSQL (embedded, from the pgserver wheel) unless NOVA_PG_HOST selects an external one.
.DEFAULT_GOAL := help
PYTHON ?= python3.11
UV_VERSION := 0.13.9
VENV := .venv
BIN := $(VENV)/bin

STAMP := $(VENV)/.installed

# The virtualenv is rebuilt when the pinned requirements change. uv (pinned in requirements.txt)
# installs the exact set; the project itself goes on top, editable, without dependencies.
# --compile-bytecode: every Airflow task, dbt and GX run is a new Python process; without .pyc files
# (uv writes none by default, and PYTHONDONTWRITEBYTECODE=1 stops Python from caching them) each one
# compiles Airflow, GX and pandas from source again (about 6 s of a task's start on 2 cores).
$(STAMP): requirements.txt pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check uv==$(UV_VERSION)
	$(BIN)/uv pip sync --compile-bytecode --python $(BIN)/python requirements.txt
	$(BIN)/uv pip install --compile-bytecode --python $(BIN)/python --no-deps -e .
	@touch $(STAMP)

.PHONY: venv  ## Create .venv from the pinned requirements.txt (done by every other target)
venv: $(STAMP)

.PHONY: demo  ## Run the whole pipeline on demo data through Airflow and print a summary
demo: $(STAMP)
	$(BIN)/nova demo

.PHONY: test  ## Run every test (what CI runs); installs Debian's chromium for the browser tests if needed
test: $(STAMP) chromium
	$(BIN)/pytest

# The browser tests drive Debian's chromium through Playwright (no browser download). As root with
# apt it is installed here; otherwise make stops and says how to get it (never a silent skip).
CHROMIUM ?= $(or $(NOVA_CHROMIUM),/usr/bin/chromium)
.PHONY: chromium  ## Install Debian's chromium (browser tests) when missing: root + apt-get
chromium:
	@if [ -x "$(CHROMIUM)" ]; then exit 0; fi; \
	if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
		echo "installing Debian's chromium for the browser tests (apt-get)"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	else \
		echo "make test: the browser tests need Debian's chromium at $(CHROMIUM) and it is missing." >&2; \
		echo "  install it with: sudo apt-get install -y chromium   (or set NOVA_CHROMIUM=/path/to/chromium)" >&2; \
		exit 1; \
	fi; \
	test -x "$(CHROMIUM)" || { echo "apt-get installed no $(CHROMIUM); set NOVA_CHROMIUM to your chromium" >&2; exit 1; }

.PHONY: airflow  ## Start the Airflow 3 UI on http://127.0.0.1:8080 with its services (LocalExecutor)
airflow: $(STAMP)
	$(BIN)/nova airflow up

.PHONY: stop  ## Stop everything make started (Airflow services, embedded PostgreSQL)
stop:
	@if [ -x $(BIN)/nova ]; then $(BIN)/nova stop; else echo "nothing to stop (.venv missing)"; fi

.PHONY: docs  ## Generate the dbt docs site (lineage), offline
docs: $(STAMP)
	$(BIN)/nova docs

.PHONY: db  ## Start the platform's PostgreSQL (embedded unless NOVA_PG_HOST is set)
db: $(STAMP)
	$(BIN)/nova db start

.PHONY: lint  ## Lint Python with ruff (incl. Airflow's AIR rules) and the dbt SQL with sqlfluff
lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/sqlfluff lint dbt_project/models dbt_project/tests

.PHONY: bench  ## Run the benchmarks (prints figures and ratios)
bench: $(STAMP)
	$(BIN)/python bench/pipeline.py

.PHONY: lock  ## Re-resolve requirements.txt from requirements.in
lock: $(STAMP)
	$(BIN)/uv pip compile requirements.in --python-version 3.11 -o requirements.txt

.PHONY: clean  ## Stop services and delete local state (.nova: databases, Airflow home, landing files)
clean: stop
	rm -rf .nova dbt_project/target dbt_project/logs

.PHONY: help  ## Show this help
help:
	@grep -E '^.PHONY: .*?## .*$$' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ".PHONY: |## "}; {printf "%-10s %s\n", $$2, $$3}'
