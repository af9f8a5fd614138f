# A fresh clone needs two commands: `make demo` and `make test`. Both are idempotent.
# The CPU torch wheel is installed first: a bare `torch` requirement would otherwise pull a multi-GB CUDA build.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
TORCH  := torch==2.13.0
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1

.PHONY: demo test reproduce lint install install-dev bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# Stamps re-run the install only when pyproject.toml changes.
$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet $(TORCH)
	$(BIN)/pip install --quiet -e ".[dense,proactive,chat]"
	touch $@

$(VENV)/.installed-dev: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet $(TORCH)
	$(BIN)/pip install --quiet -e ".[dev]"
	touch $@ $(VENV)/.installed

install: $(VENV)/.installed
install-dev: $(VENV)/.installed-dev

demo: install
	$(BIN)/kbrank demo

# The suite without the BEIR reproduction (which encodes two corpora with MiniLM): 11 to 15 minutes on a fresh
# 2-core machine (20 to 27 with the install and the notebooks; 32 when the machine is busy); then the notebooks in examples/notebooks, top to bottom (nbmake, a few minutes;
# a separate run, so that pytest's own suite stays as it is). `make reproduce` runs the reproduction; CI (.ci/run)
# runs both.
test: install-dev lint
	$(BIN)/python -m pytest -q -p no:cacheprovider -m "not reproduction"
	MPLBACKEND=Agg $(BIN)/python -m pytest -q -p no:cacheprovider --nbmake --nbmake-timeout=900 examples/notebooks

reproduce: install-dev
	$(BIN)/python -m pytest -q -p no:cacheprovider -m reproduction

# ruff, then mypy: mypy's defaults everywhere, strict on the public modules ([tool.mypy] in pyproject.toml).
lint: install-dev
	$(BIN)/ruff check src tests benchmarks examples
	$(BIN)/mypy src/kbrank

bench: install-dev
	$(BIN)/python benchmarks/bench_bm25.py

clean:
	rm -rf $(VENV) build dist src/*.egg-info
