# DevMemory: `make setup` installs everything and checks it works; `make test` runs every test;
# `make test-fast` is the quick loop (core, storage contract and unit tests: the `slow` end-to-end ones left out).
VENV ?= .venv
PY := $(VENV)/bin/python
PYTHON ?= python3

.PHONY: setup test test-fast test-python test-vscode lint bench clean

setup: $(VENV)/.installed
	$(VENV)/bin/devmem doctor

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	# The distribution was called `devmemory` before (an unrelated project on PyPI): drop it first.
	$(PY) -m pip uninstall --quiet --yes devmemory 2>/dev/null || true
	$(PY) -m pip install --quiet -e ".[dev]"
	touch $@

test: lint test-python test-vscode

lint: $(VENV)/.installed
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .
	$(PY) -m mypy

test-fast: $(VENV)/.installed
	$(PY) -m pytest -q -m "not slow"

test-python: $(VENV)/.installed
	$(PY) -m pytest -q

# The extension tests run the in-process server (as the pytest suite does): no engine is left
# behind in the runtime folder of whoever runs the tests.
test-vscode: $(VENV)/.installed
	cd editors/vscode && npm ci --no-audit --no-fund && npm run build && DEVMEM_ENGINE=off DEVMEM_LSP=$(CURDIR)/$(VENV)/bin/devmem-lsp npm test

bench: $(VENV)/.installed
	$(PY) bench/locomo.py
	$(PY) bench/scale.py --sizes 10000

clean:
	rm -rf $(VENV) editors/vscode/node_modules editors/vscode/dist editors/vscode/out
