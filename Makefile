# Every target creates .venv when it is missing. torch is pinned so pip takes the
# CPU wheel from a local wheel cache where one exists (see README for the CUDA build).
#
# The project is installed into .venv as a wheel, not editable: the repository's app/,
# core/, export/ and resources/ folders become the one import name `attnscope`, and
# lint-imports, mypy and pytest all see exactly what `pip install .` gives a user. The
# wheel is pure Python and reinstalls in seconds whenever a source file changes.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
TORCH ?= torch==2.13.0
SOURCES := pyproject.toml $(shell find package core app export resources -type f \
             -not -path '*/__pycache__/*' -not -name '*.pyc' 2>/dev/null)

.PHONY: setup setup-test install run test lint bench bench-train default-model wheel clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip "setuptools>=77" wheel

# Dependencies: the base install, training ([train]: torch pinned) and, for tests, [hf] + tools.
$(VENV)/.deps: $(BIN)/python pyproject.toml
	$(BIN)/pip install -q "$(TORCH)"
	$(BIN)/pip install -q ".[train]"
	touch $@

$(VENV)/.deps-test: $(VENV)/.deps
	$(BIN)/pip install -q ".[test]"
	touch $@

# The package itself, rebuilt from the working tree when any source file is newer.
$(VENV)/.installed: $(VENV)/.deps $(SOURCES)
	rm -rf build ./*.egg-info
	$(BIN)/pip install -q --no-deps --no-build-isolation --force-reinstall .
	rm -rf build ./*.egg-info
	touch $@

setup: $(VENV)/.installed

setup-test: $(VENV)/.deps-test $(VENV)/.installed

run: setup
	$(BIN)/attnscope gui

lint: setup-test
	$(BIN)/lint-imports
	$(BIN)/ruff check .
	$(BIN)/mypy

# -P: the repository root is never on sys.path, so the tests import the installed attnscope.
test: setup-test lint
	QT_QPA_PLATFORM=offscreen $(BIN)/python -P -m pytest -q

bench: setup-test
	$(BIN)/python -m benchmarks.run_all

# Trains the default preset from scratch (about 10-15 minutes on 2 CPU cores).
bench-train: setup-test
	$(BIN)/python -m benchmarks.bench_train --train --out runs/bench-default

# The shipped default model, reproduced from scratch (about 15 minutes on 2 CPU cores).
default-model: setup
	$(BIN)/attnscope train --preset default --out runs/default --seed 0
	$(BIN)/attnscope export-onnx runs/default --out resources/models/default --verify

# The wheel and sdist under dist/.
wheel: setup-test
	rm -rf build dist
	$(BIN)/python -m build --no-isolation --outdir dist .

clean:
	rm -rf $(VENV) runs build dist *.egg-info
