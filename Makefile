# gridcall: `make demo` runs the demo county, `make test` runs the test suite.
# Both set everything up first (`make install`) on a fresh Debian machine.
PYTHON ?= /usr/bin/python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install demo test lint bench clean

install: $(STAMP) map_ui/static/vendor/.stamp

$(STAMP): pyproject.toml constraints.txt scripts/setup-system.sh
	scripts/setup-system.sh
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -c constraints.txt -e '.[dev]'
	touch $@

map_ui/static/vendor/.stamp: scripts/vendor-assets.sh
	scripts/vendor-assets.sh map_ui/static/vendor
	touch $@

demo: install
	$(BIN)/gridcall demo

test: install
	scripts/setup-system.sh --test
	$(BIN)/ruff check .
	$(BIN)/mypy .
	GRIDCALL_TEST_POSTGRES_URL=$$(scripts/postgis-up.sh) $(BIN)/pytest -n 2 -q

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy .

bench: install
	scripts/setup-system.sh --test
	GRIDCALL_BENCH_POSTGRES_URL=$$(scripts/postgis-up.sh) $(BIN)/python -m bench $(BENCH_ARGS)

clean:
	rm -rf $(VENV) map_ui/static/vendor build *.egg-info .mypy_cache .ruff_cache .pytest_cache
