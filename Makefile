# The README's promises: `make train` runs the main job, `make test` runs the tests.
# Both install what is missing first (a virtual environment in .venv).
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: setup train train-clip test test-fast lint clean chromium

$(STAMP): pyproject.toml
	@ldconfig -p | grep -q libcairo.so.2 || (apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq libcairo2 >/dev/null) || \
	  echo "could not install libcairo2: the image pool cannot render SVGs (apt-get install libcairo2)"
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -e '.[dev]'
	touch $(STAMP)

setup: $(STAMP)

# The main job: the default LM recipe on the embedded pool (built on first use).
train: $(STAMP)
	$(BIN)/bench train --scale small

# The CLIP track's default recipe on the embedded image-text pool.
train-clip: $(STAMP)
	$(BIN)/bench train --track clip --scale small

# Debian's chromium renders the report page in a test (skipped where it cannot be had).
chromium:
	@command -v chromium >/dev/null || (apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null) || \
	  echo "could not install chromium: the report rendering test will be skipped"

# The whole test suite (slow end-to-end tests included) and `bench verify` over the
# committed leaderboard; CI runs exactly this.
test: $(STAMP) chromium
	$(BIN)/ruff check benchmark tests benchmarks
	$(BIN)/bench verify
	$(BIN)/python -m pytest -q

# The offline tier: no training run and nothing fetched from a registry (pools the tests
# build from local files only); a fetch attempted here fails ($$BENCH_OFFLINE).
test-fast: $(STAMP)
	BENCH_OFFLINE=1 $(BIN)/python -m pytest -q -m "not slow and not network"

lint: $(STAMP)
	$(BIN)/ruff check benchmark tests benchmarks

clean:
	rm -rf $(VENV) runs
