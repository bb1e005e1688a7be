# Every target builds what it needs from a fresh clone: no step before it.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test check bench clean bytecode

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

# Editable installs ship no bytecode, and some machines set PYTHONDONTWRITEBYTECODE: compile
# lambench's own modules up front (incremental, so cheap when nothing changed).
bytecode: $(STAMP)
	@$(BIN)/python -m compileall -q lambench

run: bytecode
	$(BIN)/lambench --project demo_functions

test: bytecode
	$(BIN)/python -m pytest -q

check: $(STAMP)
	$(BIN)/ruff check lambench tests benchmarks
	$(BIN)/ruff format --check lambench tests benchmarks
	$(BIN)/mypy

BENCH_STAMP := $(VENV)/.bench-installed

$(BENCH_STAMP): $(STAMP)
	$(BIN)/python -m pip install --quiet -e '.[dev,bench]'
	@touch $(BENCH_STAMP)

bench: bytecode $(BENCH_STAMP)
	$(BIN)/python -m benchmarks.run

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
