# dissentry: `make run` (demo on the bundled synthetic sample) and `make test`.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
# Two installs into one venv: the demo needs the runtime dependencies only (no Airflow, moto,
# pytest, Jupyter or browser); the tests, lint and Airflow targets add the extras.
RUN_STAMP := $(VENV)/.installed-run-stamp
STAMP := $(VENV)/.installed-stamp

.PHONY: setup setup-run run test lint bench clean airflow airflow-smoke

setup: $(STAMP)
setup-run: $(RUN_STAMP)

$(VENV)/bin/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(RUN_STAMP): pyproject.toml | $(VENV)/bin/python
	$(BIN)/python -m pip install --quiet -e .
	@touch $(RUN_STAMP)

$(STAMP): pyproject.toml | $(VENV)/bin/python
	$(BIN)/python -m pip install --quiet -e ".[dev,airflow,s3]"
	@touch $(STAMP) $(RUN_STAMP)

# The demo, then the validation workflow (README, "Validating the measure"): draw a random sample of
# about 100 references per group, label it (here from the sample's planted truth, as if a researcher
# had), import the labels and rebuild, so the headline shows the corrected rates beside the raw ones.
# Run twice, it finds the planted-truth labels already in the lake and draws nothing more.
run: setup-run
	$(BIN)/dissentry sample --out data/sample
	$(BIN)/dissentry --config dissentry.toml run
	@if $(BIN)/dissentry --config dissentry.toml sql --format csv \
	      "SELECT 'labelled' FROM labels WHERE annotator = 'planted-truth' LIMIT 1" 2>/dev/null | grep -q '^labelled'; \
	then echo "planted-truth labels are already in the lake: no new draw"; \
	else set -e; \
	  echo "$(BIN)/dissentry --config dissentry.toml labels sample --per-group 100 --seed 1 --out data/sample/to_label.csv"; \
	  $(BIN)/dissentry --config dissentry.toml labels sample --per-group 100 --seed 1 --out data/sample/to_label.csv; \
	  echo "$(BIN)/dissentry sample --out data/sample --label-from-truth data/sample/to_label.csv"; \
	  $(BIN)/dissentry sample --out data/sample --label-from-truth data/sample/to_label.csv; \
	  echo "$(BIN)/dissentry --config dissentry.toml labels import data/sample/to_label.labelled.csv --annotator planted-truth"; \
	  $(BIN)/dissentry --config dissentry.toml labels import data/sample/to_label.labelled.csv --annotator planted-truth; \
	fi
	@echo; echo "=== with the labelled sample: corrected rates beside the raw ones ==="
	$(BIN)/dissentry --config dissentry.toml transform
	$(BIN)/dissentry --config dissentry.toml report
	$(BIN)/dissentry --config dissentry.toml report --html

test: setup
	$(BIN)/python -m pytest -q

lint: setup
	$(BIN)/ruff check .

bench: setup
	$(BIN)/python bench/bench_pipeline.py --posts 1000000

clean:
	rm -rf data/ .pytest_cache .ruff_cache

# ---- Airflow (the `airflow` extra; guide: docs/airflow.md) ---------------------------------------
# Local only: the API server listens on 127.0.0.1; Airflow's state lives in data/airflow.
AIRFLOW_ENV := AIRFLOW_HOME=$(CURDIR)/data/airflow AIRFLOW__CORE__DAGS_FOLDER=$(CURDIR)/dags \
	AIRFLOW__CORE__LOAD_EXAMPLES=False AIRFLOW__API__HOST=127.0.0.1 AIRFLOW__API__PORT=8080 \
	AIRFLOW__CORE__EXECUTION_API_SERVER_URL=http://127.0.0.1:8080/execution/ PATH="$(CURDIR)/$(BIN):$$PATH"

airflow: setup
	@mkdir -p data/airflow
	@$(AIRFLOW_ENV) $(BIN)/airflow db migrate >/dev/null
	@$(BIN)/python -m dissentry.orchestration pools dissentry.toml | $(AIRFLOW_ENV) sh >/dev/null
	@echo "Airflow UI: http://127.0.0.1:8080   login: admin   password: printed below by the simple auth manager,"
	@echo "kept in data/airflow/simple_auth_manager_passwords.json.generated. DAGs: dags/ (from dissentry.toml);"
	@echo "pools created. Ctrl-C stops every component. Guide: docs/airflow.md"
	@# Airflow's scheduler can hang on Ctrl-C's SIGINT (LocalExecutor); on SIGTERM every component
	@# shuts down. So standalone runs in a session of its own and Ctrl-C becomes one SIGTERM to it.
	@$(AIRFLOW_ENV) setsid $(BIN)/airflow standalone & pid=$$!; \
	trap 'echo "stopping Airflow..."; kill -TERM -$$pid 2>/dev/null; wait $$pid' INT TERM; wait $$pid

airflow-smoke: setup
	$(BIN)/python scripts/airflow_smoke.py
