# Two entry points matter: `make demo` and `make test`. Both create .venv,
# install the pinned dependencies and any missing system packages first.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
RUNTIME_STAMP := $(VENV)/.runtime-installed
DEV_STAMP := $(VENV)/.dev-installed
# statsforecast (a bench baseline) requires pandas<3: it lives in its own virtualenv.
SF_VENV := .venv-statsforecast
SF_STAMP := $(SF_VENV)/.installed

.PHONY: demo test lint bench bench-venv bench-venv-lock system-deps system-deps-test install install-dev lock clean

demo: system-deps $(RUNTIME_STAMP)
	$(VENV)/bin/capplan demo --out out

test: system-deps-test $(DEV_STAMP)
	$(PY) -m pytest -n 2 --durations=25 $(PYTEST_ARGS)

lint: $(DEV_STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy

bench: system-deps $(DEV_STAMP) $(SF_STAMP)
	$(PY) bench/run.py $(BENCH_ARGS)

system-deps:
	scripts/system-deps.sh runtime

system-deps-test:
	scripts/system-deps.sh test

install: $(RUNTIME_STAMP)
install-dev: $(DEV_STAMP)
bench-venv: $(SF_STAMP)

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

$(SF_VENV)/bin/python:
	$(PYTHON) -m venv $(SF_VENV)
	$(SF_VENV)/bin/pip install --quiet --upgrade "pip>=24"

$(SF_STAMP): $(SF_VENV)/bin/python bench/requirements-statsforecast.txt
	$(SF_VENV)/bin/pip install --quiet -r bench/requirements-statsforecast.txt
	touch $@

# Re-pins statsforecast and everything it pulls in, for the bench-only virtualenv.
bench-venv-lock:
	rm -rf .lock-venv && $(PYTHON) -m venv .lock-venv
	.lock-venv/bin/pip install --quiet "statsforecast==2.1.1"
	{ sed -n '/^#/p' bench/requirements-statsforecast.txt; .lock-venv/bin/pip freeze; } > bench/requirements-statsforecast.txt.new
	mv bench/requirements-statsforecast.txt.new bench/requirements-statsforecast.txt
	rm -rf .lock-venv

# Re-pins every dependency from the ranges in pyproject.toml plus the dev tools.
lock:
	rm -rf .lock-venv && $(PYTHON) -m venv .lock-venv
	.lock-venv/bin/pip install --quiet . $$(sed -n 's/==.*//p' requirements-dev.lock | grep -v '^-r')
	.lock-venv/bin/pip freeze --exclude capplan > requirements.all.txt
	rm -rf .lock-venv
	@echo "Split requirements.all.txt into requirements.lock and requirements-dev.lock"

clean:
	rm -rf $(VENV) $(SF_VENV) out .pytest_cache .mypy_cache .ruff_cache test-artifacts
