# Every target creates .venv when it is missing. torch is pinned so pip takes the
# CPU wheel from a local wheel cache where one exists (see README for the CUDA build).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
TORCH ?= torch==2.13.0

.PHONY: setup setup-test run test lint bench bench-train default-model clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip

$(VENV)/.installed: $(BIN)/python pyproject.toml
	$(BIN)/pip install -q "$(TORCH)"
	$(BIN)/pip install -q -e .
	touch $@

$(VENV)/.installed-test: $(VENV)/.installed
	$(BIN)/pip install -q -e ".[test]"
	touch $@

setup: $(VENV)/.installed

setup-test: $(VENV)/.installed-test

run: setup
	$(BIN)/attnscope gui

lint: setup-test
	$(BIN)/lint-imports
	$(BIN)/ruff check .
	$(BIN)/mypy

test: setup-test lint
	QT_QPA_PLATFORM=offscreen $(BIN)/python -m pytest -q

bench: setup-test
	$(BIN)/python -m benchmarks.run_all

# Trains the default preset from scratch (about 10-15 minutes on 2 CPU cores).
bench-train: setup-test
	$(BIN)/python -m benchmarks.bench_train --train --out runs/bench-default

# The shipped default model, reproduced from scratch (about 15 minutes on 2 CPU cores).
default-model: setup
	$(BIN)/attnscope train --preset default --out runs/default --seed 0
	$(BIN)/attnscope export-onnx runs/default --out resources/models/default --verify

clean:
	rm -rf $(VENV) runs build *.egg-info
