"""Start-up stays light (issue 27): ``flexbatch --help`` and every command's ``--help``
load no engine or dataframe library, so the CLI answers at once. A check of which modules
load, not of time: it holds on a loaded machine."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

HEAVY = ("duckdb", "pandas", "pandera", "polars", "pyarrow", "pyspark", "hypothesis")

PROBE = """
import json, sys
from flexbatch.cli import main
sys.argv = ["flexbatch", *json.loads(sys.argv[1])]
try:
    main()
except SystemExit:
    pass
print(json.dumps(sorted(m for m in sys.modules if m.split(".")[0] in json.loads(sys.argv[-1]))))
"""


def loaded(*args: str) -> list[str]:
    """The heavy modules a fresh interpreter holds after ``flexbatch ARGS``."""
    probe = PROBE.replace("json.loads(sys.argv[-1])", repr(set(HEAVY)))
    done = subprocess.run(
        [sys.executable, "-c", probe, json.dumps(list(args))],
        capture_output=True,
        text=True,
        check=True,
    )
    assert done.stderr == ""  # nothing third-party writes to stderr either
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_help_imports_no_engine_or_dataframe_library():
    assert loaded("--help") == []


@pytest.mark.parametrize("command", ["run", "backfill", "sql", "export", "status", "report"])
def test_command_help_imports_no_engine_or_dataframe_library(command):
    assert loaded(command, "--help") == []


def test_status_loads_no_engine_nor_validation_library(tmp_path):
    # status reads OUT's records and IN's bytes (Polars and pyarrow read the records);
    # nothing it does needs DuckDB, Pandera or Spark
    from helpers import SAMPLE

    args = ("status", "--input", str(SAMPLE), "--output", str(tmp_path), "--format", "json")
    assert {name.split(".")[0] for name in loaded(*args)} <= {"polars", "pyarrow"}


def test_the_probe_sees_an_import(tmp_path):
    # the check can fail: the SQL command's work imports DuckDB
    assert "duckdb" in loaded("sql", "select 1", "--output", str(tmp_path))
