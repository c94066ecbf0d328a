# Set-up and build from a fresh clone: `make release` (the main job) and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: release build validate test lint benchmark clean

$(STAMP): requirements.lock requirements-nodeps.lock pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -r requirements.lock
	$(BIN)/pip install --quiet --no-deps -r requirements-nodeps.lock
	$(BIN)/pip install --quiet --no-deps -e .
	touch $(STAMP)

# `pedall build` validates first, and returns at once when the release is up to date.
release: $(STAMP)
	$(BIN)/pedall build

build: release

validate: $(STAMP)
	$(BIN)/pedall validate

test: $(STAMP)
	$(BIN)/ruff check scripts tests
	$(BIN)/pytest

benchmark: $(STAMP)
	$(BIN)/python scripts/benchmark.py

lint: $(STAMP)
	$(BIN)/ruff check scripts tests

clean:
	rm -rf $(VENV) dist
