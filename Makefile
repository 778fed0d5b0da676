# Two commands matter: `make demo` and `make test`. Each sets itself up on a fresh machine
# with only Python 3.11+ and make: a virtual environment from the hash-locked requirements.
# requirements.lock holds the runtime dependencies only (the Docker image installs it);
# requirements-dev.lock adds the dev group (tests, linters, browser) for this environment.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# Python keeps its compiled modules (__pycache__) even where the environment says not to
# (PYTHONDONTWRITEBYTECODE=1 on the CI machines, with pip's --no-compile below): the suite,
# the demo and the benchmarks start hundreds of Python processes (gaung serve, workers,
# emulators), and each one compiled every module it imported again, about 1.7 s of CPU apiece.
# Empty is "not set" to Python.
export PYTHONDONTWRITEBYTECODE :=
STAMP := $(VENV)/.installed-$(shell cat requirements-dev.lock pyproject.toml | cksum | cut -d' ' -f1)

.PHONY: install demo test lint typecheck pytest bench clean lock

# --no-compile: pip byte-compiled all 4,900 modules of the environment (20 s of the install's 40 s
# of CPU); Python compiles the few hundred a run imports on first use instead.
$(STAMP): requirements-dev.lock pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q --no-compile --require-hashes -r requirements-dev.lock
	$(BIN)/python -m pip install -q --no-deps -e .
	@rm -f $(VENV)/.installed-*
	@touch $@

install: $(STAMP)

demo: install
	$(BIN)/gaung demo $(DEMO_ARGS)

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: install
	$(BIN)/mypy

# Three test processes (pytest-xdist) on two cores: much of the suite waits on the processes it
# starts (gaung serve, the emulators, PostgreSQL) and on the emulated rate limits, and with two
# workers a third of the CPU stayed idle (`make test`: 12.4 CPU-minutes in 11.4 minutes on two
# cores, PostgreSQL's own not counted). Each worker has its own PostgreSQL cluster (or its own
# template on GAUNG_TEST_DATABASE_URL's server), temp folders and ports. Tests go out two at a
# time (--dist load --maxschedchunk 2), slowest first (tests/conftest.py SLOWEST_FIRST), so no
# long test starts last on its own.
# PYTEST_ARGS="-n 0" runs one process; other options pass through too.
PYTEST_ARGS ?= -n 3 --dist load --maxschedchunk 2
pytest: install
	$(BIN)/pytest $(PYTEST_ARGS)

# mypy (about 20 s of CPU on a clean clone, no cache) runs beside pytest, whose workers
# spend much of their time waiting on the processes they start; either failing fails the target.
test: lint
	@$(MAKE) --no-print-directory -j2 typecheck pytest

bench: install
	$(BIN)/python -m bench $(BENCH_ARGS)

lock: install
	@test -x $(BIN)/uv || $(BIN)/python -m pip install -q uv
	$(BIN)/uv pip compile pyproject.toml --group dev --generate-hashes --python-version 3.11 -q -o requirements-dev.lock
	$(BIN)/uv pip compile pyproject.toml --constraint requirements-dev.lock --generate-hashes --python-version 3.11 -q -o requirements.lock

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache
