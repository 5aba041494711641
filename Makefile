# st2lite: `make run` starts everything, `make test` runs every check CI runs.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp

.DEFAULT_GOAL := help
.PHONY: help install run test check lint typecheck unit bench screenshots st2client clean

help: ## Show the targets
	@grep -E '^[a-z0-9]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "st2lite needs Python 3.11 or newer; set PYTHON=python3.11")'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[dev]'
	@touch $(STAMP)

install: $(STAMP) ## Create .venv and install st2lite with its dev tools

run: install ## Start st2lite (embedded Redis unless ST2LITE_REDIS_URL is set), API on 127.0.0.1:9101
	$(BIN)/st2lite up

test: install lint typecheck unit ## Lint, type-check and run the test suite (what CI runs)

check: test ## The same as test: exactly what CI runs

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: install
	$(BIN)/mypy

unit: install
	$(BIN)/pytest -q

screenshots: install ## Run the dashboard's browser tests and save their screenshots in docs/images/
	ST2LITE_SCREENSHOTS=1 $(BIN)/pytest -q tests/browser

bench: install ## Run the benchmarks; figures go to bench/results/latest.json
	$(BIN)/python -m bench

st2client: install ## Build .venv-st2client: the real st2 CLI (st2client 3.9.0) the tests drive (they build it too)
	$(BIN)/python tests/st2cli/client_venv.py

clean: ## Remove the virtualenvs and caches
	rm -rf $(VENV) .venv-st2client .venv-st2client.lock .mypy_cache .ruff_cache .pytest_cache
