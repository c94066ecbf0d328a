# Set-up and build from a fresh clone: `make release` (the main job) and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
PIP_TOOLS := pip-tools==7.6.2

.PHONY: release build validate test lint benchmark mutation metadata lock clean distclean

# One pin list, requirements.lock, with hashes (pip then installs nothing unpinned or unverified);
# `pip check` proves the installed set is consistent.
$(STAMP): requirements.lock pyproject.toml
	$(PYTHON) -m venv --clear $(VENV)  # from scratch: nothing left over from an older pin list
	$(BIN)/pip install --quiet --require-hashes -r requirements.lock
	$(BIN)/pip install --quiet --no-deps -e .
	$(BIN)/pip check
	touch $(STAMP)

# `pedall build` validates first and returns at once when the release is up to date. While the version
# is not frozen (no releases/<version>.sha256), it replaces an earlier build of it, so edit data ->
# `make release` -> query is the editing loop.
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

# Mutation testing of the statistics (meta.py) against the fast tests that pin them to metafor's
# numbers (tests/test_meta.py), in a scratch copy: mutmut looks for code only in ./, src/ or source/.
# Surviving mutants and why each is harmless: docs/mutation.md.
MUTATION := build/mutation
mutation: $(STAMP)
	rm -rf $(MUTATION) && mkdir -p $(MUTATION)/tests
	cp -r scripts/pedall $(MUTATION)/pedall
	cp tests/conftest.py tests/test_meta.py $(MUTATION)/tests/
	cp pyproject.toml $(MUTATION)/
	cd $(MUTATION) && $(CURDIR)/$(BIN)/mutmut run --max-children 1 && $(CURDIR)/$(BIN)/mutmut results

lint: $(STAMP)
	$(BIN)/ruff check scripts tests

# Rewrite CITATION.cff, .zenodo.json and the README's citation block from datapackage.json.
metadata: $(STAMP)
	$(BIN)/pedall metadata --write

# Regenerate requirements.lock from pyproject.toml's direct dependencies (pip-compile from PyPI).
lock:
	$(PYTHON) -m venv .venv-lock
	.venv-lock/bin/pip install --quiet $(PIP_TOOLS)
	.venv-lock/bin/pip-compile --quiet --generate-hashes --extra dev --strip-extras --allow-unsafe \
	  --no-emit-index-url --no-emit-find-links --output-file requirements.lock pyproject.toml

# Build outputs and caches; the virtual environment stays (distclean removes it too).
clean:
	rm -rf dist build .pytest_cache .ruff_cache

distclean: clean
	rm -rf $(VENV) .venv-lock
