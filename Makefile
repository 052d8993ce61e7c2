# Everything runs inside .venv, built from requirements.lock on first use.
# `make help` lists the targets.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export PATH := $(abspath $(BIN)):$(PATH)

.DEFAULT_GOAL := help
.PHONY: help setup repro test test-fast lint bench lab clean-venv lock

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-11s %s\n", $$1, $$2}'

$(STAMP): requirements.lock pyproject.toml src/nbml/runner/jupyter.py
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
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

repro: setup ## run the pipeline (dvc repro) on the bundled default data
	$(BIN)/dvc repro

test: setup ## run all tests (unit, notebooks with nbval, end-to-end with DVC)
	$(BIN)/python -m pytest

test-fast: setup ## run the tests that do not execute the whole pipeline
	$(BIN)/python -m pytest -m "not slow"

lint: setup ## ruff on the package, the tests and the notebooks
	$(BIN)/ruff check src tests tools notebooks

bench: setup ## time each stage as notebook vs plain script, and a no-op repro
	$(BIN)/python -m tools.bench

lab: setup ## open JupyterLab on the notebooks with the project kernel
	$(BIN)/python -m nbml.runner.jupyter lab

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

bench-scale: setup ## time dvc repro on synthetic tables (BENCH_ROWS=1e5,1e6,1e7) vs a plain pandas script
	$(BIN)/python -m tools.bench_scale
