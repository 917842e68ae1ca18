# vidar: `make run` starts everything locally; `make test` runs the tests. Both set up .venv.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
PACKAGES := libs/vidar services/gateway

.PHONY: install run test lint bench clean

$(STAMP): requirements-dev.txt $(foreach p,$(PACKAGES),$(p)/pyproject.toml)
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e 'libs/vidar[devstack]' $(foreach p,$(filter-out libs/vidar,$(PACKAGES)),-e $(p)) -r requirements-dev.txt
	touch $@

install: $(STAMP)

run: $(STAMP)
	$(BIN)/python -m vidar.devstack.run

test: $(STAMP)
	$(BIN)/pytest

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

bench: $(STAMP)
	$(BIN)/python -m tests.bench.videos_api

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
