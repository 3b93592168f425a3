# The two commands: `make serve` and `make test`. Both create .venv and install what is missing,
# at the versions of the lock files in requirements/ (with their hashes; docs/development.md).
#   make serve [PORT=9000] [HOST=0.0.0.0]   the server: the runtime lock only
#   make test                               the test lock, lint, hygiene and the whole suite,
#                                           then its distributed pass (test-distributed) and
#                                           huggingface_hub's own tests (test-hub)
#   make test-distributed                   LFS, Xet, gating, e2e on PostgreSQL + SeaweedFS +
#                                           two front ends
#   make test-hub                           huggingface_hub's own tests against a modelgit
#                                           server, alone (downloads them; docs/hub-suite.md)
#   make lock                               rewrite the locks after a pyproject.toml change
#   make lock-upgrade                       the same, moving every pin to its newest release
#   make test-latest                        the suite on the newest releases, in .venv-latest
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
LATEST := .venv-latest
DATA ?= modelgit-data
HOST ?=
PORT ?=
PYTEST_WORKERS ?= 3
RUNTIME_LOCK := requirements/runtime.txt
TEST_LOCK := requirements/test.txt
TOOL_LOCK := requirements/lock-tool.txt
# One stamp per lock, so that `make serve` after `make test` installs nothing (the test lock
# holds the runtime lock's pins) and a changed lock file reinstalls.
RUNTIME_STAMP := $(VENV)/.runtime-stamp
TEST_STAMP := $(VENV)/.test-stamp
# test-latest runs the same targets with BIN pointing into .venv-latest and no stamp.
TEST_DEPS ?= $(TEST_STAMP)
# `make lock`: one universal lock (Linux, macOS, Windows; Python 3.11 and newer, as
# requires-python says) with every file's sha256.
UV_COMPILE = $(BIN)/uv pip compile --quiet --universal --python-version 3.11 \
	--generate-hashes --custom-compile-command "make lock" $(LOCK_ARGS)
PIP_QUIET = -q --disable-pip-version-check
# The project itself, from the packages already installed. (setuptools warns on every editable
# install that a folder named like the package may shadow it: here that folder is the package.)
INSTALL_PROJECT = PYTHONWARNINGS="ignore:Editable installation" \
	$(BIN)/python -m pip install $(PIP_QUIET) --no-deps --no-build-isolation -e .

.PHONY: serve test test-distributed test-hub lint hygiene bench lock lock-upgrade test-latest clean

$(BIN)/python:
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' || \
		{ echo "modelgit needs Python 3.11 or newer (found $$($(PYTHON) --version))"; exit 1; }
	$(PYTHON) -m venv $(VENV)

# The locks pin setuptools too: the project itself installs with no download at all.
$(RUNTIME_STAMP): $(RUNTIME_LOCK) pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install $(PIP_QUIET) --require-hashes -r $(RUNTIME_LOCK)
	$(INSTALL_PROJECT)
	@touch $@

$(TEST_STAMP): $(TEST_LOCK) $(RUNTIME_LOCK) pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install $(PIP_QUIET) --require-hashes -r $(TEST_LOCK)
	$(INSTALL_PROJECT)
	@touch $@ $(RUNTIME_STAMP)

serve: $(RUNTIME_STAMP)
	$(BIN)/modelgit --data $(DATA) serve $(if $(HOST),--host $(HOST)) $(if $(PORT),--port $(PORT))

lint: $(TEST_DEPS)
	$(BIN)/ruff check modelgit tests bench hubsuite
	$(BIN)/mypy modelgit
	$(BIN)/lint-imports --no-cache

# Our own hygiene: no medium/high bandit finding in the package, and no secret in the tracked
# files beyond the committed .secrets.baseline (its entries are reviewed false positives and
# test fixtures). Refresh it with: .venv/bin/detect-secrets scan -n > .secrets.baseline
hygiene: $(TEST_DEPS)
	$(BIN)/bandit -r modelgit -q -ll
	$(BIN)/python tests/check_secrets.py

test: $(TEST_DEPS)
	bash tests/bootstrap.sh
	$(MAKE) --no-print-directory lint
	$(MAKE) --no-print-directory hygiene
	$(BIN)/pytest -n $(PYTEST_WORKERS) -q
	$(MAKE) --no-print-directory test-distributed
	$(MAKE) --no-print-directory test-hub

# The LFS, Xet, gating and end-to-end tests again with every site's store on PostgreSQL (a database
# per site on each worker's throwaway cluster), its LFS objects on SeaweedFS and two front ends
# behind nginx (docs/operations.md). tests/test_store.py and tests/services already ran on
# both backends in the first pass. test_two_front_ends_share_one_queue starts its own pair of
# servers and runs in `make test`.
test-distributed: $(TEST_DEPS)
	MODELGIT_TEST_STORAGE=s3 MODELGIT_TEST_FRONTENDS=2 MODELGIT_TEST_DATABASE=postgresql \
		$(BIN)/pytest -n $(PYTEST_WORKERS) -q \
		tests/lfs tests/xet tests/gating tests/e2e -k "not test_two_front_ends_share_one_queue"

# huggingface_hub's own tests, from the sdist of the pinned version (checked against the lock's
# sha256), against a fresh server per worker; fails on a failure hubsuite/expected-failures.txt
# does not list. About a minute on two cores, so `make test` runs it last (docs/hub-suite.md).
test-hub: $(TEST_DEPS)
	$(BIN)/python -m hubsuite

bench: $(TEST_STAMP)
	$(BIN)/python -m bench

# uv writes the locks: it resolves for every platform and Python at once, with hashes. The
# test lock is constrained by the runtime lock, so the packages they share have one pin.
# An existing pin is kept while it still fits pyproject.toml; lock-upgrade moves them all.
lock: | $(BIN)/python
	$(BIN)/python -m pip install $(PIP_QUIET) --require-hashes -r $(TOOL_LOCK)
	$(UV_COMPILE) pyproject.toml requirements/build.in -o $(RUNTIME_LOCK)
	$(UV_COMPILE) pyproject.toml requirements/build.in --extra test -c $(RUNTIME_LOCK) -o $(TEST_LOCK)
	$(UV_COMPILE) requirements/lock-tool.in -o $(TOOL_LOCK)

lock-upgrade:
	$(MAKE) --no-print-directory lock LOCK_ARGS=--upgrade

# The newest releases that pyproject.toml allows, without the lock: what a fresh clone would
# get the day the lock is refreshed. It first lists how they differ from the test lock, so a
# release that breaks the suite shows here before it reaches `make lock`. Not part of CI.
test-latest:
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' || \
		{ echo "modelgit needs Python 3.11 or newer (found $$($(PYTHON) --version))"; exit 1; }
	test -x $(LATEST)/bin/python || $(PYTHON) -m venv $(LATEST)
	$(LATEST)/bin/python -m pip install $(PIP_QUIET) -U --upgrade-strategy eager pip setuptools
	PYTHONWARNINGS="ignore:Editable installation" \
		$(LATEST)/bin/python -m pip install $(PIP_QUIET) -U --upgrade-strategy eager -e ".[test]"
	$(LATEST)/bin/python -m tests.helpers.lockfiles $(TEST_LOCK)
	$(MAKE) --no-print-directory test BIN=$(LATEST)/bin TEST_DEPS=

clean:
	rm -rf $(VENV) $(LATEST) .pytest_cache .ruff_cache .cache/hub-tests
