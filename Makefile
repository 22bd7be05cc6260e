# Quick start: `make demo` and `make test`. Both create .venv and install the project on first use.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
AIRFLOW_VERSION ?= 3.3.2

.PHONY: demo test lint format emulator clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev]" "apache-airflow==$(AIRFLOW_VERSION)"
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/python -m up42_provider.demo

test: $(STAMP)
	$(BIN)/ruff check up42_provider tests benchmarks example_dags
	$(BIN)/python -m pytest -p no:cacheprovider -q

lint: $(STAMP)
	$(BIN)/ruff check up42_provider tests benchmarks example_dags
	$(BIN)/ruff format --check up42_provider tests benchmarks example_dags

format: $(STAMP)
	$(BIN)/ruff check --fix up42_provider tests benchmarks example_dags
	$(BIN)/ruff format up42_provider tests benchmarks example_dags

emulator: $(STAMP)
	$(BIN)/up42-emulator --speed 10

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache
