# CountyCare — the two commands a newcomer needs are `make demo` and `make test`.
#
# PYTHON: the newest CPython >= 3.11 found on PATH or under pyenv (3.12+ installs Django 6.1,
# 3.11 installs Django 5.2 LTS). Override with `make demo PYTHON=/path/to/python3`.
PYTHON ?= $(shell for p in python3.14 python3.13 python3.12 \
	$$(ls -d $${PYENV_ROOT:-$$HOME/.pyenv}/versions/3.1[2-9]*/bin/python3 2>/dev/null | sort -rV) \
	python3.11 python3; do \
	"$$p" -c 'import sys, venv, ensurepip; sys.exit(sys.version_info < (3, 11))' >/dev/null 2>&1 \
	&& { echo "$$p"; break; }; done)

VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
PG_URL ?= postgres://postgres@127.0.0.1:5432/countycare
RESIDENTS ?=
SEED ?=

.PHONY: help install demo serve test test-postgres lint format messages benchmarks clean

help:
	@echo "make demo           install into .venv, migrate SQLite under var/, seed the demo county, serve :8000"
	@echo "make test           install, lint, check migrations, run the test suite on SQLite"
	@echo "make test-postgres  the same suite on PostgreSQL ($(PG_URL))"
	@echo "make messages       extract and compile translations (needs GNU gettext)"
	@echo "make benchmarks     run benchmarks/*.py (they print JSON)"

$(STAMP): pyproject.toml
	@test -n "$(PYTHON)" || { echo "CountyCare needs Python 3.11 or newer (python3 -m venv must work)."; exit 1; }
	@echo "Using $(PYTHON) ($$($(PYTHON) --version))"
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/countycare migrate --noinput
	$(BIN)/countycare demo $(if $(RESIDENTS),--residents $(RESIDENTS)) $(if $(SEED),--seed $(SEED))

serve: $(STAMP)
	$(BIN)/countycare serve

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

test: $(STAMP) lint
	$(BIN)/countycare makemigrations --check --dry-run
	$(BIN)/python -m pytest

test-postgres: $(STAMP)
	DATABASE_URL=$(PG_URL) $(BIN)/python -m pytest

messages: $(STAMP)
	cd src/countycare && ../../$(BIN)/countycare makemessages -l zh_Hans -l en --no-obsolete --ignore 'static/*'
	cd src/countycare && ../../$(BIN)/countycare compilemessages

benchmarks: $(STAMP)
	@for b in benchmarks/*.py; do echo "== $$b"; $(BIN)/python $$b || exit 1; done

clean:
	rm -rf $(VENV) var .pytest_cache .ruff_cache
