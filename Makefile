# Two entry points matter: `make demo` and `make test`. Both create .venv,
# install the pinned dependencies and any missing system packages first.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
RUNTIME_STAMP := $(VENV)/.runtime-installed
DEV_STAMP := $(VENV)/.dev-installed

.PHONY: demo test lint bench system-deps system-deps-test install install-dev lock clean

demo: system-deps $(RUNTIME_STAMP)
	$(VENV)/bin/capplan demo --out out

test: system-deps-test $(DEV_STAMP)
	$(PY) -m pytest -n 2 --durations=25 $(PYTEST_ARGS)

lint: $(DEV_STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy

bench: system-deps $(DEV_STAMP)
	$(PY) bench/run.py $(BENCH_ARGS)

system-deps:
	scripts/system-deps.sh runtime

system-deps-test:
	scripts/system-deps.sh test

install: $(RUNTIME_STAMP)
install-dev: $(DEV_STAMP)

$(VENV)/bin/python:
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --upgrade "pip>=24"

$(RUNTIME_STAMP): $(VENV)/bin/python requirements.lock pyproject.toml
	$(VENV)/bin/pip install --quiet -r requirements.lock
	$(VENV)/bin/pip install --quiet --no-deps -e .
	touch $@

$(DEV_STAMP): $(RUNTIME_STAMP) requirements-dev.lock
	$(VENV)/bin/pip install --quiet -r requirements-dev.lock
	touch $@

# Re-pins every dependency from the ranges in pyproject.toml plus the dev tools.
lock:
	rm -rf .lock-venv && $(PYTHON) -m venv .lock-venv
	.lock-venv/bin/pip install --quiet . $$(sed -n 's/==.*//p' requirements-dev.lock | grep -v '^-r')
	.lock-venv/bin/pip freeze --exclude capplan > requirements.all.txt
	rm -rf .lock-venv
	@echo "Split requirements.all.txt into requirements.lock and requirements-dev.lock"

clean:
	rm -rf $(VENV) out .pytest_cache .mypy_cache .ruff_cache test-artifacts
