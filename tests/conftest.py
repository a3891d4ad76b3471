"""Fixtures: run the flexbatch CLI in-process, through ``main`` and its error handler; and
the ``slow`` mark, so ``pytest -m "not slow"`` runs the fast part of the suite (SQL steps
alone, parsing, settings, the sql sandbox, meta-tests) in well under a minute."""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass

import pytest

from flexbatch import cli


@dataclass
class CliResult:
    exit_code: int
    stdout: str
    stderr: str


@pytest.fixture
def flexbatch(capsys, monkeypatch):
    """Run ``flexbatch ARGS`` in-process, through ``main`` and its error handler."""

    def invoke(*args: str) -> CliResult:
        monkeypatch.setattr(sys, "argv", ["flexbatch", *args])
        code = 0
        try:
            cli.main()
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else 1
        captured = capsys.readouterr()
        return CliResult(code, captured.out, captured.err)

    return invoke


# End-to-end modules: sample backfills, subprocesses, Spark, Airflow, a browser.
SLOW_MODULES = {
    "test_airflow_dag",
    "test_backfill_equals_nightly",
    "test_bench_smoke",
    "test_catalog",
    "test_export",
    "test_focus",
    "test_hostile",
    "test_input_validation",
    "test_operations",
    "test_publication",
    "test_report",
    "test_revenue_cli",
    "test_simulate",
    "test_explain",
    "test_spark_engine",
}


SLOW_TESTS = {
    "test_demo_runs_and_prints_the_output_path",
    "test_sql_quarantine_equals_pandera_rules",
}


# The longest modules, longest first (CI, pytest --durations). Under pytest-xdist
# (--dist loadfile --no-loadscope-reorder) workers take modules in collection order, so
# these start first and the short ones fill in behind them instead of a long one last.
LONGEST_FIRST = (
    "test_spark_engine",
    "test_s3",
    "test_publication",
    "test_input_validation",
    "test_hostile",
    "test_report",
    "test_operations",
    "test_books_cli",
    "test_credit_ledger",
    "test_lifecycle",
    "test_reference_ledger",
    "test_charges_golden",
)


def module_name(item: pytest.Item) -> str:
    return item.module.__name__.rsplit(".", 1)[-1] if item.module else ""


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if module_name(item) in SLOW_MODULES or item.originalname in SLOW_TESTS:
            item.add_marker(pytest.mark.slow)
    if os.environ.get("PYTEST_XDIST_WORKER"):  # one process: files in their usual order
        rank = {name: i for i, name in enumerate(LONGEST_FIRST)}
        items.sort(key=lambda item: rank.get(module_name(item), len(rank)))  # stable
