# Two commands do all the set-up on a fresh machine that has Python 3.11+, git and make:
#   make demo   the local Storage stack with demo data, and the Dagster UI on http://127.0.0.1:3000
#   make test   lint, definitions check and every test
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# The stamp is older than pyproject.toml whenever the dependencies change, so `make` installs again.
STAMP := $(VENV)/.installed-stamp

.PHONY: demo test lint format bench clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[local,dev]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/python -m kbc_sync.demo

test: $(STAMP) lint
	KBC_SYNC_CONFIG=kbc_sync/demo.yaml $(BIN)/dagster definitions validate -m kbc_sync.definitions
	$(BIN)/pytest

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

bench: $(STAMP)
	$(BIN)/python benchmarks/local_stack.py
	$(BIN)/python benchmarks/copy.py --rows 1000000
	$(BIN)/python benchmarks/dagster_scale.py

clean:
	rm -rf $(VENV) .demo .pytest_cache .ruff_cache *.egg-info
