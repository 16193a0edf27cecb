# glmstack: `make demo` boots a lab node and deploys to it; `make test` runs every test tier.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell sha256sum pyproject.toml | cut -c1-12)

.PHONY: venv shellcheck test test-fast test-resolve test-lab test-slow test-conformance bench-drift bench-weights bench-envs demo lab-down clean

venv: $(STAMP)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	rm -f $(VENV)/.installed-* && touch $@

# Debian's shellcheck, which tests/unit/test_shellcheck.py runs on every rendered shell script:
# installed once (as root, or with sudo), nothing to do when it is there.
SUDO := $(if $(filter 0,$(shell id -u)),,sudo)
# Also dpkg-dev and gpg: the vendor-mirror tests build and sign apt repositories of their own.
shellcheck:
	@command -v shellcheck >/dev/null && command -v dpkg-scanpackages >/dev/null && command -v gpgv >/dev/null \
	  && command -v gpg >/dev/null || { export DEBIAN_FRONTEND=noninteractive; \
	  PKGS="shellcheck dpkg-dev gpg gpgv"; \
	  $(SUDO) apt-get install -y --no-install-recommends $$PKGS || \
	  { $(SUDO) apt-get update && $(SUDO) apt-get install -y --no-install-recommends $$PKGS; }; }

# Every tier: unit, plan (@fake hosts), resolve (network: the package index) and the lab
# end-to-end tier (root; boots real nodes).
test: venv shellcheck
	$(BIN)/ruff check .
	$(BIN)/python -m pytest tests/unit tests/facts tests/plan tests/resolve tests/lab

# Seconds, no root, no network (once shellcheck is installed): unit and plan tests only.
test-fast: venv shellcheck
	$(BIN)/ruff check .
	$(BIN)/python -m pytest tests/unit tests/facts tests/plan

# Every engine environment the catalog can produce, resolved by the nodes' uv for its own target
# (network: the package index; cached under ~/.cache/glmstack-resolve).
test-resolve: venv
	$(BIN)/python -m pytest tests/resolve

test-lab: venv
	$(BIN)/python -m pytest tests/lab

# Every rendered command line (all recipes, all nodes, all units) parsed by the pinned engines' own
# parsers, and every engine-prefixed variable checked against the engine's own list. No GPU, no root;
# network to the package index, cc and cmake. The first run builds the engines' environments (about
# 13 GB under ~/.cache/glmstack-conformance); later runs reuse them. Nightly, and before any change
# to an engine's pin or command.
test-conformance: venv
	$(BIN)/python -m pytest tests/conformance

# Opt-in, root, network: installs the pinned vLLM and SGLang environments on a lab node for real.
test-slow: venv
	GLMSTACK_SLOW=1 $(BIN)/python -m pytest tests/lab/test_engine_envs.py

# Root, network to the package index (ansible-core): drift check on 1 and 8 lab nodes vs ansible-core.
bench-drift: venv
	$(BIN)/python -m benchmarks.bench_drift

# Root, a few GB of disk: the weights download's throughput, fan-out to 3 nodes, time to serve.
bench-weights: venv
	$(BIN)/python -m benchmarks.bench_weights

# Root, a few GB of disk per node (vLLM's wheels): the real vLLM environment onto 3 lab nodes, with and
# without the once-per-lab fan-out, behind a throttled shared uplink; the ratio of 3 nodes to 1.
bench-envs: venv
	$(BIN)/python -m benchmarks.bench_envs

demo: venv
	$(BIN)/python -m glmstack.lab.demo

lab-down: venv
	$(BIN)/glmstack lab down

clean: lab-down
	rm -rf $(VENV) *.egg-info
