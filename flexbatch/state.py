"""Compact state across the days of a month period (SPEC §3.2 posting).

A month's later days need what its earlier days saw. Nothing is re-read from raw logs:
- tier positions and running peaks come from the month's earlier ``charges`` partitions
  (units posted per plan, period, account and threshold key; a peak posts only increases,
  so their sum is the running maximum);
- subjects already counted (unique users/resources, fixed charges already posted) live in
  ``OUT/_state/subjects/date=D``: the subjects first counted on day D in a month window.
So day D reads its own raw events plus at most one month of these two compact tables.
"""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import duckdb

from flexbatch.publish import partition
from flexbatch.sql_steps import relation_over_files

SUBJECTS = "_state/subjects"
# (relation, the published table it reads)
HISTORY_TABLES = (("charges_history", "charges"), ("subjects_history", SUBJECTS))

EMPTY = {
    "charges_history": """
        select cast(null as varchar) as plan_id, cast(null as varchar) as account_id,
               cast(null as varchar) as scope_id, cast(null as varchar) as billing_period,
               cast(null as varchar) as threshold_scope, cast(null as varchar) as algorithm,
               cast(null as date) as period_start, cast(null as decimal(38, 6)) as units,
               cast(null as date) as date
        where false""",
    "subjects_history": """
        select cast(null as varchar) as plan_id, cast(null as date) as period_start,
               cast(null as varchar) as account_id, cast(null as varchar) as threshold_key,
               cast(null as varchar) as subject_scope, cast(null as varchar) as subject_id
        where false""",
}
COLUMNS = {
    "charges_history": "plan_id, account_id, scope_id, billing_period, threshold_scope, "
    "algorithm, period_start, units, date",
    "subjects_history": "plan_id, period_start, account_id, threshold_key, subject_scope, "
    "subject_id",
}


def month_days_before(day: date) -> list[date]:
    start = day.replace(day=1)
    return [start + timedelta(days=i) for i in range((day - start).days)]


def history_files(out: Path, table: str, day: date) -> list[Path]:
    """The Parquet files of ``table`` for the days of ``day``'s month before it."""
    days = month_days_before(day)
    return [p for d in days for p in sorted(partition(out, table, d).glob("*.parquet"))]


def register_history(con: duckdb.DuckDBPyConnection, out: Path, day: date) -> dict[str, int]:
    """Create ``charges_history`` and ``subjects_history`` for ``day``; returns file counts."""
    counts = {}
    for view, table in HISTORY_TABLES:
        files = history_files(out, table, day)
        counts[view] = len(files)
        relation_over_files(con, view, files, COLUMNS[view], EMPTY[view], partition_date=True)
    return counts
