# accessplan — set-up, demo and tests. Needs only python3 (>= 3.11) and pip.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
OUT    ?= out/demo
JOBS   ?= 2

.PHONY: demo test lint bench browser clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

# Headless Chromium for the offline map/report test (Debian's package; tests drive
# /usr/bin/chromium through the Python playwright package and never download a browser).
browser:
	@test -x /usr/bin/chromium || { \
	  if [ "$$(id -u)" = 0 ]; then SUDO=; else SUDO=sudo; fi; \
	  $$SUDO apt-get update -qq && \
	  $$SUDO apt-get install -y -qq chromium fonts-dejavu-core >/dev/null; }
	@test -x /usr/bin/chromium || { echo "chromium is missing at /usr/bin/chromium" >&2; exit 1; }

demo: $(STAMP)
	$(BIN)/accessplan demo --out $(OUT) --replace

test: $(STAMP) browser
	$(BIN)/python -m pytest -n $(JOBS) --durations=15

lint: $(STAMP)
	$(BIN)/ruff check accessplan tests benchmarks
	$(BIN)/ruff format --check accessplan tests benchmarks
	$(BIN)/mypy accessplan

bench: $(STAMP)
	for f in benchmarks/bench_*.py; do $(BIN)/python $$f || exit 1; done

clean:
	rm -rf $(VENV) out .pytest_cache
