# Quick start: `make demo` and `make test`. Both create .venv and install the project on first use.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
AIRFLOW_VERSION ?= 3.3.2
# The tested dependency set for this Python, when we have one: fast, reproducible installs (pip's
# resolver can backtrack for many minutes over Airflow's and the AWS provider's dependency tree).
PYVER := $(shell $(PYTHON) -c 'import sys; print(f"{sys.version_info[0]}.{sys.version_info[1]}")')
CONSTRAINTS := $(wildcard constraints/python$(PYVER).txt)

.PHONY: demo test lint format emulator clean constraints sdk-venv

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev]" "apache-airflow==$(AIRFLOW_VERSION)" \
		$(if $(CONSTRAINTS),-c $(CONSTRAINTS))
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/python -m up42_provider.demo

test: $(STAMP)
	$(BIN)/ruff check up42_provider tests benchmarks example_dags
	$(BIN)/python -m mypy
	$(BIN)/python -m pytest -p no:cacheprovider -q

lint: $(STAMP)
	$(BIN)/ruff check up42_provider tests benchmarks example_dags
	$(BIN)/ruff format --check up42_provider tests benchmarks example_dags

format: $(STAMP)
	$(BIN)/ruff check --fix up42_provider tests benchmarks example_dags
	$(BIN)/ruff format up42_provider tests benchmarks example_dags

emulator: $(STAMP)
	$(BIN)/up42-emulator --speed 10

constraints: $(STAMP)
	mkdir -p constraints
	{ echo "# Tested dependency set (pip freeze of a working .venv) for Python $(PYVER); make uses it when it matches."; \
	  echo "# Regenerate: make constraints"; \
	  $(BIN)/python -m pip freeze --exclude-editable | grep -v -e '^-e' -e '^airflow-provider-up42' -e '^#'; \
	} > constraints/python$(PYVER).txt

# The unmodified up42-py 4.3.0 in a side venv (its pins conflict with Airflow's); tests/compat/current
# builds it on first use too, and rebuilds it when constraints/up42-py-4.3.0.txt changes.
sdk-venv: $(STAMP)
	$(BIN)/python -m tests.compat.current.sdk_venv

clean:
	rm -rf $(VENV) .venv-up42-430 .venv-up42-430.lock build *.egg-info .pytest_cache
