# The README's commands. `make demo` and `make test` set up .venv themselves.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: setup demo test lint typecheck unit bench clean quick test-matrix test-min

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[all,dev]"
	touch $(STAMP)

setup: $(STAMP)

demo: setup
	$(BIN)/batchdelete demo

lint: setup
	$(BIN)/ruff check batchdelete plugins tests benchmarks tools
	$(BIN)/ruff format --check batchdelete plugins tests benchmarks tools

typecheck: setup
	$(BIN)/mypy --strict batchdelete plugins tests benchmarks tools

# Every test, under branch coverage (coverage.py, configured in pyproject.toml: child
# processes count too), on 2 pytest-xdist workers; then the modules not fully covered
# and the total, which fails under [tool.coverage.report] fail_under.
COV := $(BIN)/coverage
UNIT_XDIST := -n 2 --dist worksteal
# Branches alone (tools/branches.py); statements and branches together: pyproject's
# [tool.coverage.report] fail_under. Both at what the suite reaches, rounded down.
BRANCHES_UNDER := 96
unit: setup
	rm -f .coverage .coverage.*
	$(COV) run -m pytest $(UNIT_XDIST)
	$(COV) combine -q
	$(COV) report
	$(COV) json -q -o coverage.json
	$(BIN)/python tools/branches.py coverage.json --fail-under $(BRANCHES_UNDER)

test: lint typecheck unit

# The edit-test loop, about a minute on 2 cores: ruff, then the tests not marked slow
# on 4 pytest-xdist workers, keeping bytecode (faster from the second run on).
# No mypy: `make typecheck`, `make test` and the pre-commit hook run it.
XDIST := -n 4 --dist worksteal
QUICK := -m "not slow" $(XDIST)
quick: setup
	$(BIN)/ruff check batchdelete plugins tests benchmarks tools
	$(BIN)/ruff format --check batchdelete plugins tests benchmarks tools
	PYTHONDONTWRITEBYTECODE= $(BIN)/python -m pytest $(QUICK) -q

# The suite on each other CPython 3.10-3.13 found, in .venv-3.X (tools/matrix.py):
# the quick set, or every test (one worker, as `make test`) with FULL=1.
test-matrix:
	PYTHONDONTWRITEBYTECODE= $(PYTHON) tools/matrix.py --covered $(PYTHON) $(if $(FULL),--full,-- $(XDIST))

# The lowest versions pyproject allows (constraints-min.txt), in .venv-min on the
# oldest CPython found, over the contract and transport suites (FULL=1: slow ones too).
MIN_VENV := .venv-min
MIN_PYTHON = $(shell $(PYTHON) tools/matrix.py --which 3.10 2>/dev/null || echo $(PYTHON))
MIN_TESTS := tests/test_contract.py tests/test_emulator.py tests/test_workflows.py \
	tests/test_async_workflows.py tests/test_hostile.py tests/test_hostile_memory.py \
	tests/test_options.py tests/test_options_httpx_stdlib.py tests/test_options_urllib3_requests.py \
	tests/test_tls.py tests/test_interrupted_tls.py tests/test_exception_maps.py \
	tests/test_httpx_transport.py tests/test_httpx_async_transport.py \
	tests/test_aiohttp_transport.py tests/test_stdlib_transport.py tests/test_pycurl_transport.py \
	tests/test_no_cookies.py tests/test_secrets.py tests/test_fork.py tests/test_fuzz.py \
	tests/test_credentials.py tests/test_credentials_async.py
$(MIN_VENV)/.installed: pyproject.toml constraints-min.txt
	rm -rf $(MIN_VENV)
	$(MIN_PYTHON) -m venv $(MIN_VENV)
	$(MIN_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(MIN_VENV)/bin/python -m pip install --quiet -c constraints-min.txt -e ".[all,dev]"
	touch $@

test-min: $(MIN_VENV)/.installed
	$(MIN_VENV)/bin/python -c "import sys, importlib.metadata as m; print('python', sys.version.split()[0], *(f'{n} {m.version(n)}' for n in ('msgspec', 'pluggy', 'requests', 'httpx', 'urllib3', 'aiohttp', 'pycurl')))"
	PYTHONDONTWRITEBYTECODE= $(MIN_VENV)/bin/python -m pytest $(if $(FULL),,$(QUICK)) -q $(MIN_TESTS)

bench: setup
	$(BIN)/python -m benchmarks --out benchmarks/results

clean:
	rm -rf $(VENV) .venv-3.* $(MIN_VENV) build dist *.egg-info .pytest_cache .mypy_cache .ruff_cache \
		.coverage .coverage.* coverage.json htmlcov
