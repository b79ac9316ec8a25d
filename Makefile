# The two front doors: `make serve` and `make test`. Both bootstrap .venv on a fresh machine.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
BENCH_STAMP := $(VENV)/.installed-bench

.PHONY: serve test check bench lint typecheck clean

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@$(BIN)/python -m pip install --quiet --upgrade pip
	@$(BIN)/python -m pip install --quiet -e '.[test]'
	@touch $(STAMP)

$(BENCH_STAMP): $(STAMP)
	@$(BIN)/python -m pip install --quiet -e '.[test,bench]'
	@touch $(BENCH_STAMP)

serve: $(STAMP)  ## run the server on 127.0.0.1:8000 (SQLite, generated development secrets)
	$(BIN)/tokensmith serve --host 127.0.0.1 --port 8000

test: $(BENCH_STAMP)  ## the whole test suite (the bench extra too: its smoke test runs the peers)
	$(BIN)/python -m pytest $(PYTEST_ARGS)

check: $(STAMP) lint typecheck  ## ruff and mypy --strict

lint: $(STAMP)
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench

typecheck: $(STAMP)
	$(BIN)/mypy src

bench: $(BENCH_STAMP)  ## the benchmark suite (see docs/performance.md); installs wrk if missing
	@command -v wrk >/dev/null || (apt-get update -qq && apt-get install -y -qq wrk)
	$(BIN)/python -m bench $(BENCH_ARGS)

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
