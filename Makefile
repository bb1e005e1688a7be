# Every target builds what it needs from a fresh clone: no step before it.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test check bench clean bytecode node

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

# Node.js functions run on the local node: installed from the system packages when it is missing
# (as root, or with passwordless sudo), else the one line says what to do.
node:
	@command -v node >/dev/null 2>&1 || { \
	  echo "node is missing: installing Node.js from the system packages"; \
	  if command -v apt-get >/dev/null 2>&1; then \
	    SUDO=$$( [ "$$(id -u)" = 0 ] && echo "" || echo "sudo -n" ); \
	    $$SUDO apt-get update -qq && $$SUDO apt-get install -y -qq nodejs; \
	  elif command -v brew >/dev/null 2>&1; then brew install node; \
	  else echo "install Node.js 20 (https://nodejs.org) and run make test again"; exit 1; fi; }

test: bytecode node
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
