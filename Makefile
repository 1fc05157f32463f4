# datrig — two commands matter: `make hls MODEL=photon_id` and `make test`. Both install first.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
MODEL  ?= photon_id
SEED   ?= 1
PYTEST_ARGS ?=

.PHONY: setup setup-test tools test test-all bench jet-tagger verify hls validate calibrate scan lint format clean

# The product's environment: what `datrig` imports. `make hls` and the other product targets
# install only this (the test tools below cost a fresh clone ~10 s more: measured pip 5 s and
# byte-compiling 5 s, dcor pulls numba and llvmlite).
$(VENV)/.installed: pyproject.toml
	@echo "datrig: installing the Python environment into $(VENV) (pinned; torch from its local wheel)"
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install -q --upgrade pip
	# torch first and pinned: 2.13.0 is a local CPU wheel; anything else downloads gigabytes.
	$(VENV)/bin/pip install -q --no-compile torch==2.13.0
	$(VENV)/bin/pip install -q --no-compile -e .
	# Byte-compiled once on every core (pip compiles file by file: half of the install time);
	# tests folders are never imported. As with pip, a file in another Python's syntax stays
	# uncompiled, so compileall's status is not the install's.
	$(PY) -m compileall -qq -j 0 -x '/tests?/' $(VENV)/lib || true
	touch $@

# The test tools on top (pytest, pytest-benchmark, dcor, ruff, import-linter): `make test`,
# `make bench`, `make lint`. compileall skips what is already compiled.
$(VENV)/.installed-test: $(VENV)/.installed
	$(VENV)/bin/pip install -q --no-compile -e '.[test]'
	$(PY) -m compileall -qq -j 0 -x '/tests?/' $(VENV)/lib || true
	touch $@

# The venv (pip) and the RTL tools (apt) install side by side: on a fresh machine both wait on
# downloads, and `make hls` should start within a minute or two.
setup:
	@bash scripts/install_tools.sh & tools=$$!; \
	$(MAKE) -s --no-print-directory $(VENV)/.installed; status=$$?; \
	wait $$tools; exit $$status

setup-test: setup
	@$(MAKE) -s --no-print-directory $(VENV)/.installed-test

# Open-source RTL tools for the firmware reports (best effort: reports fall back to a
# labelled analytic estimate and the RTL tests skip when these are absent).
tools:
	@bash scripts/install_tools.sh

test: setup-test
	$(PY) -m pytest -m "not slow" --benchmark-disable $(PYTEST_ARGS)

test-all: setup-test
	$(PY) -m pytest --benchmark-disable $(PYTEST_ARGS)

# Measures every benchmark; the summary at the end (and .benchmarks/datrig-summary.json) has
# each rate and every ratio between implementations, all from this one run.
bench: setup-test
	$(PY) -m pytest benchmarks --benchmark-enable --benchmark-only --benchmark-columns=min,median,mean,ops,rounds $(PYTEST_ARGS)

# hls4ml's jet-tagging benchmark (16-64-32-32-5 + softmax, 6-bit QKeras, exported to QONNX):
# import (emulator = C-sim), then every number measured: RTL co-simulated with Verilator against
# the emulator on 1e5 events, yosys, at the L1 clocks 200/240/360 MHz (~10 min with yosys).
JET_TAGGER_ONNX ?= ../shared/refmodels/jettagging_qkeras/qkeras_jettagging.onnx
jet-tagger: setup tools
	$(VENV)/bin/datrig import $(JET_TAGGER_ONNX) --name jet_tagger --seed $(SEED)
	$(VENV)/bin/datrig report --model jet_tagger --seed $(SEED) --clocks 200,240,360 --slacks 0

# Emulator vs C-simulation; VERIFY_ARGS="--rtl" checks the DA-RTL (Verilator) instead, e.g.
# VERIFY_ARGS="--rtl --events 1000000" or "--rtl --input photons_data.h5".
VERIFY_ARGS ?=
verify: setup
	$(VENV)/bin/datrig verify --model $(MODEL) --events 100000 --seed $(SEED) $(VERIFY_ARGS)

hls: setup
	$(VENV)/bin/datrig hls --model $(MODEL) --seed $(SEED)

# Compare every registered DA method on the firmware's outputs (trains the missing runs).
validate: setup
	$(VENV)/bin/datrig validate --model $(MODEL) --seed $(SEED)

# The ABCD calibration on firmware outputs: the shipped photon ID (ddt) against none, with the
# peers (cut-based, gbdt, DDT, hep_ml flatness BDTs) on the same candidates.
# CALIBRATE_ARGS="--data DIR" evaluates a large sample, e.g. `datrig simulate --n 1000000`.
CALIBRATE_ARGS ?=
calibrate: setup
	$(VENV)/bin/datrig hls --model photon_id --seed $(SEED)
	test -f runs/photon_id/none/run.json || $(VENV)/bin/datrig qat --model photon_id --da none --seed $(SEED)
	$(VENV)/bin/datrig calibrate --run runs/photon_id/ddt runs/photon_id/none --seed $(SEED) $(CALIBRATE_ARGS)

# Pareto front on Ray (local, 127.0.0.1); SCAN_ARGS="--address auto" for a cluster.
SCAN_ARGS ?=
scan: setup
	$(VENV)/bin/datrig scan --model $(MODEL) --seed $(SEED) $(SCAN_ARGS)

lint: setup-test
	$(VENV)/bin/ruff check datrig tests benchmarks
	$(VENV)/bin/ruff format --check datrig tests benchmarks
	$(VENV)/bin/lint-imports  # the pipeline's layer order and no cycles (pyproject.toml)

format: setup-test
	$(VENV)/bin/ruff format datrig tests benchmarks
	$(VENV)/bin/ruff check --fix datrig tests benchmarks

clean:
	rm -rf data runs reports .pytest_cache .benchmarks
	find hls_projects -mindepth 1 -maxdepth 1 ! -name README.md -exec rm -rf {} +
