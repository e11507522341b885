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

.PHONY: setup setup-test install run test lint bench bench-train mutants default-model figures wheel clean

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
	QT_QPA_PLATFORM=offscreen $(BIN)/python -P -m pytest -q -m "not slow"

# The [bench] extra (CTranslate2) is optional: without it the comparison is left out.
bench: setup-test
	-$(BIN)/pip install -q --no-build-isolation ".[bench]"
	$(BIN)/python -m benchmarks.run_all
	QT_QPA_PLATFORM=offscreen $(BIN)/python -P -m pytest -q -m slow

# Plants each bug of benchmarks/mutants.py in a scratch copy and names the test that kills it
# (about 15 minutes on 2 cores); the table goes to benchmarks/results/mutants.md.
mutants: setup-test
	QT_QPA_PLATFORM=offscreen $(BIN)/python -m benchmarks.mutants

# Trains the default preset from scratch (about 10-15 minutes on 2 CPU cores).
bench-train: setup-test
	$(BIN)/python -m benchmarks.bench_train --train --out runs/bench-default

# The shipped default model, reproduced from scratch (about 15 minutes on 2 CPU cores).
# One CPU thread: a reduction's order, and so the last bits of every weight, depend on the
# thread count; with one thread the run (weights and metrics.jsonl, timestamps aside) is the same
# on every machine.
default-model: setup
	rm -rf runs/default
	OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 $(BIN)/attnscope train --preset default --out runs/default --seed 0 --device cpu
	OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 $(BIN)/attnscope export-onnx runs/default --out resources/models/default --verify

# Every figure the README shows, from the shipped model (deterministic: same files each time).
FIG := $(BIN)/attnscope figure --width single --dpi 150
FIGURES := docs/figures
figures: setup
	mkdir -p $(FIGURES)
	$(FIG) "She eats an apple." --view cross -o $(FIGURES)/cross.png
	$(FIG) "She eats an apple." --view head --kind dec --layer 3 --head 2 --words -o $(FIGURES)/head-words.png
	$(FIG) "I love you" --view probs --step 2 --top 6 -o $(FIGURES)/probs.png
	$(FIG) "I love you" --view trace -o $(FIGURES)/trace.png
	$(FIG) "She eats an apple." --view beam -o $(FIGURES)/beam.png
	$(FIG) --view curves -o $(FIGURES)/curves.png
	$(FIG) --view aer -o $(FIGURES)/aer.png
	$(FIG) --view roles -o $(FIGURES)/roles.png
	$(FIG) "She eats an apple." --view snapshots --kind cross --layer 3 --head mean -o $(FIGURES)/snapshots.png

# The wheel and sdist under dist/.
wheel: setup-test
	rm -rf build dist
	$(BIN)/python -m build --no-isolation --outdir dist .

clean:
	rm -rf $(VENV) runs build dist *.egg-info
