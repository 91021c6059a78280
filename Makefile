# Gatewayz developer commands. Needs only Python 3.11+ on the PATH.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: install run test lint typecheck format bench browser screenshots
CLIENTS := tests/clients
# Packages checked by `mypy --strict` (settings in pyproject.toml, whose [tool.mypy] lists every
# package to be held to it).
TYPED := gatewayz.relay gatewayz.billing gatewayz.protocols gatewayz.providers gatewayz.api gatewayz.ui \
	gatewayz.app gatewayz.app_services gatewayz.services

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

# Debian's Chromium for the dashboard's browser tests (installed when run as root, as in CI;
# elsewhere those tests are skipped with a reason when it is missing).
browser:
	@command -v chromium >/dev/null 2>&1 || { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null \
		&& apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver; } \
		|| echo "chromium is not installed: the browser tests will be skipped (CI=true makes them fail)"

# The real clients the end-to-end tests drive (Claude Code, Codex), pinned in package-lock.json.
$(CLIENTS)/node_modules/.installed: $(CLIENTS)/package.json $(CLIENTS)/package-lock.json
	npm ci --prefix $(CLIENTS) --no-audit --no-fund --loglevel=error
	@touch $@

test: $(VENV)/.test-deps browser $(CLIENTS)/node_modules/.installed typecheck
	$(BIN)/ruff check src tests bench
	$(BIN)/pytest

lint: $(VENV)/.test-deps typecheck
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench

typecheck: $(VENV)/.test-deps
	$(BIN)/mypy $(addprefix -p ,$(TYPED))

format: $(VENV)/.test-deps
	$(BIN)/ruff format src tests bench
	$(BIN)/ruff check --fix src tests bench

bench: $(VENV)/.test-deps
	$(BIN)/python bench/run.py

# The dashboard's pictures in docs/images/dashboard, taken by its browser tests.
screenshots: $(VENV)/.test-deps browser
	GATEWAYZ_SCREENSHOTS=docs/images/dashboard $(BIN)/pytest tests/ui/test_browser.py -k sqlite -q
