# dissentry: `make run` (demo on the bundled synthetic sample) and `make test`.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

.PHONY: setup run test lint bench clean airflow airflow-smoke

setup: $(STAMP)

$(STAMP): pyproject.toml
	@test -d $(VENV) || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev,airflow,s3]"
	@touch $(STAMP)

run: setup
	$(BIN)/dissentry sample --out data/sample
	$(BIN)/dissentry --config dissentry.toml run

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
