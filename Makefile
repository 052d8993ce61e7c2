# Everything runs inside .venv, built from requirements.lock on first use.
# `make help` lists the targets.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export PATH := $(abspath $(BIN)):$(PATH)

.DEFAULT_GOAL := help
.PHONY: help setup repro status test test-fast lint bench lab clean-venv lock

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-11s %s\n", $$1, $$2}'

# A Debian Python without the python3-venv package has no ensurepip: `venv`
# then prints a page of advice and leaves a .venv without pip, which the next
# run would take as done. So a .venv without pip is made again, and a failed
# one is removed, with one line saying what to install.
VENV_HINT := nbml: error: $(PYTHON) -m venv failed: ensurepip is missing; install python3-venv (e.g. apt-get install python3-venv), then run make again
$(STAMP): requirements.lock pyproject.toml src/nbml/runner/jupyter.py
	@test -x $(BIN)/pip || { rm -rf $(VENV); \
	  if ! out=$$($(PYTHON) -m venv $(VENV) 2>&1); then \
	    rm -rf $(VENV); \
	    if grep -q ensurepip <<<"$$out"; then echo "$(VENV_HINT)" >&2; else echo "$$out" >&2; fi; \
	    exit 1; \
	  fi; }
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements.lock
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --no-deps --no-build-isolation -e .
	$(BIN)/python -m nbml.runner.jupyter install
	@touch $@

# The tests run targets in throw-away copies of the project with their own
# venv (VENV=... NO_SETUP=1): those must never reinstall it, which would point
# its editable install at the copy.
ifdef NO_SETUP
setup:
else
setup: $(STAMP) ## create or update .venv, install the helper package, register the kernel
endif

repro: setup ## run the pipeline (dvc repro) on the bundled default data, then make status
	@date +%s > $(VENV)/.repro-started
	$(BIN)/dvc repro
	$(BIN)/python -m nbml.reporting.status --since $$(cat $(VENV)/.repro-started)

status: setup ## write reports/status.js: git revision, metric changes since HEAD and main, last stage runs
	$(BIN)/python -m nbml.reporting.status

# The test files run side by side, one worker per core and one more, at most four
# (pytest-xdist): most tests wait on one process at a time (a kernel, dvc, a server
# starting), so one worker per core still left about a fifth of the CPU idle (2 cores:
# 1041 s with 2 workers, 964 s with 3; docs/performance.md). --dist loadfile keeps a
# file's tests on one worker, in order, so a module's pipeline copy is built once.
# --no-loadscope-reorder hands out the files in collection order, tests/end_to_end
# (the few long tests) first: xdist's default starts the files with the most tests
# first, which left those long files for last, one worker running them while the
# other sat idle. TEST_JOBS=0 runs them in this process.
TEST_JOBS ?= $(shell echo $$(( $$(nproc) + 1 )))
TEST_OPTS = -n $(TEST_JOBS) --maxprocesses 4 --dist loadfile --no-loadscope-reorder
test: setup ## run all tests (unit, notebooks with nbval, end-to-end with DVC)
	$(BIN)/python -m pytest $(TEST_OPTS)

test-fast: setup ## run the tests that do not execute the whole pipeline
	$(BIN)/python -m pytest $(TEST_OPTS) -m "not slow"

lint: setup ## ruff on the package, the tests and the notebooks
	$(BIN)/ruff check src tests tools notebooks

bench: setup ## time each stage as notebook vs plain script, and a no-op repro
	$(BIN)/python -m tools.bench

ARGS ?=
lab: setup ## open JupyterLab on the notebooks with the project kernel (options: ARGS="--port 8890")
	$(BIN)/python -m nbml.runner.jupyter lab $(ARGS)

lock: ## re-pin requirements.lock from requirements.in (needs the package index)
	rm -rf /tmp/nbml-lock && $(PYTHON) -m venv /tmp/nbml-lock
	/tmp/nbml-lock/bin/pip install --quiet -r requirements.in
	(echo "# Pinned from requirements.in with Python 3.11 (make lock). Installed by make setup."; \
	 /tmp/nbml-lock/bin/pip freeze --all | grep -vi '^pip==' | sort -f) > requirements.lock

clean-venv: ## remove .venv (the next target rebuilds it)
	rm -rf $(VENV)

.PHONY: push pull
push: setup ## send data, model and reports to the DVC remote (default ../nbml-remote)
	$(BIN)/dvc push

pull: setup ## fetch data, model and reports from the DVC remote, nothing re-runs
	$(BIN)/dvc pull

compare: setup ## write reports/compare.html: workspace vs HEAD vs experiments (offline page)
	$(BIN)/python -m nbml.reporting.compare

.PHONY: compare pr-report bench-exp bench-scale
BASE ?= main
pr-report: setup ## write reports/pr-report.md: metrics/params diff and plots against BASE (default main)
	$(BIN)/python -m nbml.reporting.pr_report --base $(BASE)

bench-exp: setup ## time four queued experiments with -j 2 against four run one by one
	$(BIN)/python -m tools.bench_exp

.PHONY: serve score bench-serve
serve: setup ## serve the model dvc.lock records on http://127.0.0.1:8000 (HOST, PORT, WORKERS)
	$(BIN)/python -m nbml.serving serve

score: setup ## predict a CSV/Parquet file with that model: make score IN=new.csv OUT=pred.csv
	@test -n "$(IN)" && test -n "$(OUT)" || { echo "usage: make score IN=input.csv OUT=predictions.csv" >&2; exit 2; }
	$(BIN)/python -m nbml.serving score "$(IN)" "$(OUT)"

bench-serve: setup ## the model service vs a plain FastAPI endpoint: requests/s, p50/p99, ratio
	$(BIN)/python -m tools.bench_serve

.PHONY: bench-scale
bench-scale: setup ## time dvc repro on synthetic tables (BENCH_ROWS=1e5,1e6,1e7) vs a plain pandas script
	$(BIN)/python -m tools.bench_scale

.PHONY: bench-dask
bench-dask: setup ## dvc repro on a loopback Dask cluster vs one machine (BENCH_ROWS=1e6,4e6,1e7)
	$(BIN)/python -m tools.bench_dask
