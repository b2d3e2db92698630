# Two commands a newcomer needs: `make demo` and `make test`. Both create .venv when missing.
PYTHON ?= python3
VENV ?= .venv
DEMO_OUT ?= demo-out
PYTEST_ARGS ?=
BIN := $(VENV)/bin
STAMP := $(VENV)/.semanticgen-installed

.PHONY: venv demo test clean-demo

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[dev]'
	$(BIN)/python -m pip install -q --no-deps 'pyiqa==0.1.16'   # MUSIQ architecture only (see pyproject: musiq)
	touch $(STAMP)

venv: $(STAMP)

demo: $(STAMP)
	HF_HUB_OFFLINE=1 $(BIN)/python -m jobs.demo --out $(DEMO_OUT)

test: $(STAMP)
	HF_HUB_OFFLINE=1 MLFLOW_DISABLE_TELEMETRY=true RAY_USAGE_STATS_ENABLED=0 \
		$(BIN)/python -m pytest $(PYTEST_ARGS)

clean-demo:
	rm -rf $(DEMO_OUT)
