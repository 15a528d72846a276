# Charity fund ledger. `make run` serves everything on http://127.0.0.1:8000,
# `make test` runs the suite on PostgreSQL. Both install what they need; without
# a PostgreSQL server they start an embedded one (from pip).

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-$(shell cksum pyproject.toml | cut -d' ' -f1)

.PHONY: run test install system-deps migrate bench clean help backup restore screenshots demo

help:
	@echo "make run     serve all services on http://127.0.0.1:$${PORT:-8000} (DATABASE_URL, else embedded PostgreSQL under var/pg)"
	@echo "make demo    load the demonstration (Tongling's townships, chambers, villages, projects) into the running server; make run DEMO=1 does both"
	@echo "make test    run the test suite on PostgreSQL (TEST_DATABASE_URL, else 127.0.0.1:5432, else embedded)"
	@echo "make screenshots  run the browser tests (tests/browser) and keep a screenshot of every screen in var/screenshots"
	@echo "make migrate bring the database (DATABASE_URL, else var/pg) to the latest schema; set up the services' roles"
	@echo "make bench   benchmark the ledger, a quarterly report over 1M entries, a 10-minute soak, then the fund managers' pages and the programmes service (bench/README.md)"
	@echo "make backup  back up the database (DATABASE_URL, else var/pg) and its report files under var/backups (BACKUP_DIR)"
	@echo "make restore BACKUP=<folder> [REPLACE=1]  restore a backup into the database (DATABASE_URL, else var/pg)"
	@echo "make clean   remove the virtual environment and var/"

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	@rm -f $(VENV)/.installed-*
	@touch $@

install: system-deps $(STAMP)

system-deps:
	@bash scripts/system-deps.sh

migrate: install
	$(BIN)/python -m shared.migrate

# A folder under var/backups (BACKUP_DIR): pg_dump of every service's schema, the report files,
# a manifest with their sha256 (shared/backup.py).
backup: install
	$(BIN)/python -m shared.backup create

# Into an empty database only, unless REPLACE=1; then migrates and sets up the services' roles.
restore: install
	@test -n "$(BACKUP)" || { echo "usage: make restore BACKUP=var/backups/<folder> [REPLACE=1]" >&2; exit 2; }
	$(BIN)/python -m shared.backup restore "$(BACKUP)" $(if $(filter 1 yes true,$(REPLACE)),--replace)

run: install
	$(BIN)/python -m services.serve $(if $(filter 1 yes true,$(DEMO)),--demo)

# Through the API of the server `make run` serves (same PORT and VAR_DIR); a second run adds nothing.
demo: install
	$(BIN)/python scripts/demo.py

test: install
	$(BIN)/python -m pytest $(PYTEST_ARGS)

# Every screen the browser tests visit, as <flow>-<step>-<lang>-<width>.png, for a person to look at.
SCREENSHOTS_DIR ?= var/screenshots
screenshots: install
	rm -rf "$(SCREENSHOTS_DIR)" && mkdir -p "$(SCREENSHOTS_DIR)"
	@SCREENSHOTS_DIR="$(abspath $(SCREENSHOTS_DIR))" $(BIN)/python -m pytest tests/browser $(PYTEST_ARGS); \
	  status=$$?; echo "Screenshots: $(abspath $(SCREENSHOTS_DIR)) ($$(ls "$(SCREENSHOTS_DIR)" | wc -l) files)"; exit $$status

# BENCH_SUITES=ledger, reports, soak, pages or programmes runs one of the five benchmarks (or a list of them).
BENCH_SUITES ?= ledger,reports,soak,pages,programmes
comma := ,
bench_suites := $(subst $(comma), ,$(BENCH_SUITES))

bench: install
	@for suite in $(bench_suites); do case $$suite in ledger|reports|soak|pages|programmes) ;; \
	  *) echo "BENCH_SUITES: no suite '$$suite' (ledger, reports, soak, pages, programmes)" >&2; exit 2;; esac; done
	$(if $(filter ledger,$(bench_suites)),$(BIN)/python bench/run.py)
	$(if $(filter reports,$(bench_suites)),$(BIN)/python bench/reports.py)
	$(if $(filter soak,$(bench_suites)),$(BIN)/python bench/soak.py)
	$(if $(filter pages,$(bench_suites)),$(BIN)/python bench/pages.py)
	$(if $(filter programmes,$(bench_suites)),$(BIN)/python bench/programmes.py)

clean:
	rm -rf $(VENV) var .pytest_cache .hypothesis
