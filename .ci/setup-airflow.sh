#!/usr/bin/env bash
# Airflow test environment: real Apache Airflow 3 in a virtual environment of its own
# (.venv-airflow), so Airflow never becomes a runtime dependency of flexbatch; then the DAG
# tests (tests/test_airflow_dag.py) with that environment's pytest. The main test run
# skips that file, Airflow not being importable there.
#
# From the repository root: bash .ci/setup-airflow.sh   (PYTHON=python3.12 to choose the
# interpreter). A second run reuses .venv-airflow; delete it to start from nothing.
set -euo pipefail
cd "$(dirname "$0")/.."

AIRFLOW_VERSION="3.3.2"
STANDARD_PROVIDER_VERSION="1.21.0"
venv=".venv-airflow"

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

# Run quietly; on failure show what the command printed.
quiet() {
    if ! "$@" > "$work/step.log" 2>&1; then
        cat "$work/step.log" >&2
        echo "setup-airflow: failed: $*" >&2
        exit 1
    fi
}

if [ ! -x "$venv/bin/python" ]; then
    quiet "${PYTHON:-python3}" -m venv "$venv"
    # keep the environment out of git status and of ruff (both honour .gitignore)
    echo '*' > "$venv/.gitignore"
fi
# What is installed, written after a complete install: a second run with the same versions
# and pyproject.toml installs nothing (flexbatch's own code is an editable install).
stamp="$venv/.installed"
want="apache-airflow==$AIRFLOW_VERSION standard==$STANDARD_PROVIDER_VERSION $(sha256sum pyproject.toml)"
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
    rm -f "$stamp"
    quiet "$venv/bin/pip" install --disable-pip-version-check --upgrade pip
    quiet "$venv/bin/pip" install --disable-pip-version-check \
        "apache-airflow==$AIRFLOW_VERSION" \
        "apache-airflow-providers-standard==$STANDARD_PROVIDER_VERSION" \
        "pytest>=8"
    # an editable install writes the repository's egg-info, as .ci/run's does beside this
    # script: one at a time (flock on the repository folder)
    quiet flock . "$venv/bin/pip" install --disable-pip-version-check -e .
    echo "$want" > "$stamp"
fi
echo "setup-airflow: $("$venv/bin/airflow" version 2>/dev/null | tail -n 1) in $venv"

# A throw-away Airflow home with a fresh sqlite metadata DB, which dag.test() needs.
export AIRFLOW_HOME="$work/airflow-home"
export AIRFLOW__CORE__LOAD_EXAMPLES=False
export AIRFLOW__CORE__DAGS_FOLDER="$PWD/jobs/airflow"
quiet "$venv/bin/airflow" db migrate

# FLEXBATCH_REQUIRE_AIRFLOW: fail rather than skip if Airflow is not importable. Warnings
# of Airflow's own dependencies are hidden; the DagBag test checks the DAG file has none.
# -o addopts=: pyproject's options are for the main environment (pytest-xdist is not here).
FLEXBATCH_REQUIRE_AIRFLOW=1 "$venv/bin/python" -m pytest -q -p no:cacheprovider \
    -o addopts= -W ignore \
    tests/test_airflow_dag.py
