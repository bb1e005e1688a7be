# Every target builds what it needs from a fresh clone: no step before it.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test check bench clean

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

run: $(STAMP)
	$(BIN)/lambench functions --project demo_functions
	$(BIN)/lambench invoke hello --project demo_functions --event-json '{"name": "lambench"}'

test: $(STAMP)
	$(BIN)/python -m pytest -q

check: $(STAMP)
	$(BIN)/ruff check lambench tests
	$(BIN)/ruff format --check lambench tests
	$(BIN)/mypy

bench: $(STAMP)
	$(BIN)/python -m lambench.bench

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
