# cxdesk: `make run` starts the program on a demo database; `make test` installs
# everything the tests need and runs them.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
PYTEST_ARGS ?= -n 2

.PHONY: run test venv os-deps bench package install-desktop clean

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[test,postgres,package]'
	@touch $(STAMP)

venv: $(STAMP)

os-deps:
	bash scripts/install-os-deps.sh

run: venv
	bash scripts/run-demo.sh

test: os-deps venv
	$(BIN)/python -m pytest $(PYTEST_ARGS)

bench: venv
	$(BIN)/python -m bench $(BENCH)

package: venv
	bash packaging/build.sh

install-desktop: venv
	bash scripts/install-desktop.sh

clean:
	rm -rf build dist .pytest_cache
