# Set-up and everyday commands. Every target installs what it needs first, so on a
# fresh machine `make tour` and `make test` are the only commands to type.

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python

.PHONY: setup servers tour tour-headless test bench lint

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check --upgrade pip
	$(PY) -m pip install --quiet --disable-pip-version-check -e '.[dev]'
	touch $@

## Create .venv with the package, every backend's SDK and the test tools.
setup: $(VENV)/.installed

## Install the servers that pip does not bring: Azurite, Swift, memcached, Chromium.
servers:
	tools/install-servers

## Start JupyterLab on the tour notebook over the embedded local store.
tour: setup
	$(PY) tools/tour

## Execute the tour without a browser and write its HTML.
tour-headless: setup
	$(PY) tools/tour --headless

## Run the whole test suite against real servers on 127.0.0.1.
test: setup servers
	tools/run-tests

## Run the benchmarks against SeaweedFS and print ratios to boto3, s3fs and obstore.
bench: setup
	$(PY) -m bench

lint: setup
	$(PY) -m ruff check cloudyfiles cloudyfiles_jupyter tests bench
	$(PY) -m mypy cloudyfiles
