# The two commands a new user needs: `make run` and `make test`. Both create .venv when missing.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP_RUN := $(VENV)/.installed-run
STAMP_DEV := $(VENV)/.installed-dev

# The full Philly trace when the shared data sits beside the checkout, else the shipped sample.
PHILLY := $(shell test -f ../shared/traces/philly/philly.csv && echo ../shared/traces/philly/philly.csv || echo philly)

.PHONY: run test chromium lint typecheck bench validation-docs docs clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(STAMP_RUN): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e .
	touch $@

$(STAMP_DEV): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $@ $(STAMP_RUN)

run: $(STAMP_RUN)
	$(BIN)/swarmscale headline

lint: $(STAMP_DEV)
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks

typecheck: $(STAMP_DEV)
	$(BIN)/mypy src

# The browser tests drive Debian's Chromium; never a tool's own browser download.
chromium:
	@command -v chromium >/dev/null || { \
		SUDO=$$(test "$$(id -u)" = 0 || echo sudo); \
		$$SUDO apt-get update -q && $$SUDO apt-get install -y -q chromium; }

test: lint typecheck chromium
	$(BIN)/python -m pytest

bench: $(STAMP_DEV)
	$(BIN)/python -m benchmarks.run

validation-docs: $(STAMP_RUN)
	$(BIN)/swarmscale validate --markdown docs/validation.md --plot docs/img/validation-logo.png

# Every generated document: validation report, claims, the swarm plot.
docs: validation-docs
	$(BIN)/swarmscale claims --markdown docs/claims.md
	$(BIN)/swarmscale swarm --model llama3-405b --chip ascend-910c --system cloudmatrix-384 \
		--max-chips 1e6 --seq 8192 --global-batch-tokens 16e6 --plot docs/img/swarm-405b.png >/dev/null
	$(BIN)/swarmscale simulate --network test-3-sites --trace $(PHILLY) --markdown docs/simulation.md
	$(BIN)/swarmscale simulate --network test-3-sites --trace $(PHILLY) --scheduler hetero \
		--plot docs/img/simulation-philly.png >/dev/null

clean:
	rm -rf $(VENV) build dist .mypy_cache .pytest_cache .ruff_cache
