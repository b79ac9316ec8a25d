# The two front doors: `make serve` and `make test`. Both bootstrap .venv on a fresh machine.
# Every install comes from the committed locks requirements-*.txt (exact versions, hashes);
# `make lock` recompiles them after pyproject.toml changes (see scripts/lock.py).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
UV := $(BIN)/uv
# uv installs into .venv, never elsewhere, and never fetches a Python of its own.
UV_PIP := VIRTUAL_ENV=$(CURDIR)/$(VENV) UV_PYTHON_DOWNLOADS=never $(UV) pip
TOOLS_STAMP := $(VENV)/.installed-tools
SERVER_STAMP := $(VENV)/.installed-server
DEV_STAMP := $(VENV)/.installed-dev

.PHONY: serve test check bench lint typecheck lock clean js js-codes

# pip installs uv and the build backend from their lock; uv installs everything else.
$(TOOLS_STAMP): requirements-tools.txt
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@$(BIN)/python -m pip install --quiet --disable-pip-version-check --require-hashes --no-deps \
		-r requirements-tools.txt
	@touch $@

$(SERVER_STAMP): $(TOOLS_STAMP) requirements-server.txt pyproject.toml
	@$(UV_PIP) install --quiet --require-hashes --no-deps -r requirements-server.txt
	@$(UV_PIP) install --quiet --no-deps --no-build-isolation -e .
	@touch $@

$(DEV_STAMP): $(TOOLS_STAMP) requirements-dev.txt pyproject.toml
	@$(UV_PIP) install --quiet --require-hashes --no-deps -r requirements-dev.txt
	@$(UV_PIP) install --quiet --no-deps --no-build-isolation -e .
	@touch $@

serve: $(SERVER_STAMP)  ## run the server on 127.0.0.1:8000 (SQLite, generated development secrets)
	$(BIN)/tokensmith serve --host 127.0.0.1 --port 8000

test: $(DEV_STAMP)  ## the whole test suite (the bench extra too: its smoke test runs the peers)
	$(BIN)/python -m pytest $(PYTEST_ARGS)

check: lint typecheck  ## ruff and mypy --strict, on the locked versions

lint: $(DEV_STAMP)
	$(BIN)/ruff check src tests bench scripts examples
	$(BIN)/ruff format --check src tests bench scripts examples

typecheck: $(DEV_STAMP)
	$(BIN)/mypy

lock: $(TOOLS_STAMP)  ## recompile requirements-*.txt from pyproject.toml
	$(BIN)/python scripts/lock.py

bench: $(DEV_STAMP)  ## the benchmark suite (see docs/performance.md); installs wrk if missing
	@command -v wrk >/dev/null || (apt-get update -qq && apt-get install -y -qq wrk)
	$(BIN)/python -m bench $(BENCH_ARGS)

# The browser client is the npm package in clients/js; the server serves its core build.
JS := clients/js
STATIC := src/tokensmith/server/static

js-codes: $(DEV_STAMP)  ## write the contract's error codes from errors.py into clients/js/src/codes.ts
	$(BIN)/python scripts/js_codes.py

js: js-codes  ## build clients/js and copy its core to the server's /tokensmith.js and tokensmith.d.ts
	@test -d $(JS)/node_modules || (cd $(JS) && npm ci)
	cd $(JS) && npm run build
	cp $(JS)/dist/index.js $(STATIC)/tokensmith.js
	cp $(JS)/dist/tokensmith.d.ts $(STATIC)/tokensmith.d.ts

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
