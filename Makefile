# Gatewayz developer commands. Needs only Python 3.11+ on the PATH.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: install run test lint format bench

$(BIN)/gatewayz: pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit("Gatewayz needs Python 3.11 or newer") if sys.version_info < (3, 11) else None'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e .
	@touch $@

$(VENV)/.test-deps: $(BIN)/gatewayz
	$(BIN)/python -m pip install -q -e '.[test,bench]'
	@touch $@

install: $(BIN)/gatewayz

run: $(BIN)/gatewayz
	$(BIN)/gatewayz serve

test: $(VENV)/.test-deps
	$(BIN)/ruff check src tests bench
	$(BIN)/pytest

lint: $(VENV)/.test-deps
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench

format: $(VENV)/.test-deps
	$(BIN)/ruff format src tests bench
	$(BIN)/ruff check --fix src tests bench

bench: $(VENV)/.test-deps
	$(BIN)/python bench/run.py
