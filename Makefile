# The two commands: `make serve` and `make test`. Both create .venv and install what is missing.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
DATA ?= modelgit-data
PYTEST_WORKERS ?= 3

.PHONY: serve test lint hygiene bench clean

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' || \
		{ echo "modelgit needs Python 3.11 or newer (found $$($(PYTHON) --version))"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e ".[test]"
	@touch $(STAMP)

serve: $(STAMP)
	$(BIN)/modelgit --data $(DATA) serve

lint: $(STAMP)
	$(BIN)/ruff check modelgit tests bench
	$(BIN)/mypy modelgit

# Our own hygiene: no medium/high bandit finding in the package, and no secret in the tracked
# files beyond the committed .secrets.baseline (its entries are reviewed false positives and
# test fixtures). Refresh it with: .venv/bin/detect-secrets scan -n > .secrets.baseline
hygiene: $(STAMP)
	$(BIN)/bandit -r modelgit -q -ll
	$(BIN)/python tests/check_secrets.py

test: $(STAMP)
	bash tests/bootstrap.sh
	$(MAKE) --no-print-directory lint
	$(MAKE) --no-print-directory hygiene
	$(BIN)/pytest -n $(PYTEST_WORKERS) -q

bench: $(STAMP)
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
