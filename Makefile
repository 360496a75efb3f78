# The README's commands. `make demo` and `make test` set up .venv themselves.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: setup demo test lint typecheck unit bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[all,dev]"
	touch $(STAMP)

setup: $(STAMP)

demo: setup
	$(BIN)/batchdelete demo

lint: setup
	$(BIN)/ruff check batchdelete plugins tests benchmarks
	$(BIN)/ruff format --check batchdelete plugins tests benchmarks

typecheck: setup
	$(BIN)/mypy --strict batchdelete plugins

unit: setup
	$(BIN)/python -m pytest

test: lint typecheck unit

bench: setup
	$(BIN)/python -m benchmarks --out benchmarks/results

clean:
	rm -rf $(VENV) build dist *.egg-info .pytest_cache .mypy_cache .ruff_cache
