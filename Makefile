# l1tag: two commands on a fresh machine -- `make build` and `make test` (each installs first).
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
CONFIG ?= configs/salt_l1.yaml

.PHONY: install test test-slow build bench clean docker

install: $(STAMP)

# Idempotent: reinstalls only when pyproject.toml changes (or the venv is missing).
$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info[:2] == (3, 11) else "l1tag needs Python 3.11 (tensorflow 2.14.1); set PYTHON=/path/to/python3.11")'
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e ".[test]"
	touch $(STAMP)

test: install
	$(BIN)/python -m pytest -m "not slow"

test-slow: install
	$(BIN)/python -m pytest -m slow

build: install
	$(BIN)/l1tag build --config $(CONFIG)

# each prints the table that docs/ quotes (those with markers there also update it)
BENCHES := generation_speed compare_models csim estimator_accuracy scaling firmware_pareto fidelity \
           estimate_vs_yosys energy ii1_floor efficient_vs_part order_and_projection economical

bench: install
	@set -e; for b in $(BENCHES); do echo "== bench/$$b.py"; $(BIN)/python bench/$$b.py; done

clean:
	rm -rf build .pytest_cache

docker:
	docker build -t l1tag:latest -f docker/Dockerfile .
