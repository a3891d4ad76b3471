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

import duckdb

from flexbatch.storage.partitions import partition_files
from flexbatch.storage.stores import FileInfo, Location, Store, store_of
from flexbatch.tables import empty_select
from flexbatch.transform.contract import ChargingState
from flexbatch.transform.sql_steps import relation_over_files

SUBJECTS = "_state/subjects"
# (relation, the published table it reads)
HISTORY_TABLES = (("charges_history", "charges"), ("subjects_history", SUBJECTS))

# The threshold key of a charge row: tier positions run per (plan, period, account,
# threshold key), '' when the plan's thresholds are shared by the account, else the scope.
# plan_groups.sql derives it for the day's groups with this same expression (a test pins
# the two); every other step reads the column.
THRESHOLD_KEY = "case when threshold_scope = 'scope' then scope_id else '' end"

COLUMNS = {
    "charges_history": "plan_id, account_id, scope_id, billing_period, threshold_scope, "
    f"algorithm, period_start, units, date, {THRESHOLD_KEY} as threshold_key",
    "subjects_history": "plan_id, period_start, account_id, threshold_key, subject_scope, "
    "subject_id",
}


def empty_history(view: str) -> str:
    """The typed empty relation of ``view`` (before the month's first processed day)."""
    table = dict(HISTORY_TABLES)[view]
    return f"select {COLUMNS[view]} from ({empty_select(table)})"


def month_days_before(day: date) -> list[date]:
    start = day.replace(day=1)
    return [start + timedelta(days=i) for i in range((day - start).days)]


def history_files(out: Location | Store, table: str, day: date) -> list[FileInfo]:
    """The Parquet files of ``table`` for the days of ``day``'s month before it."""
    store = store_of(out)
    return [f for d in month_days_before(day) for f in partition_files(store, table, d)]


def month_state(out: Location | Store, day: date) -> ChargingState:
    """The month state ``day`` starts from: the files of the month's earlier days."""
    store = store_of(out)
    return ChargingState(
        store,
        tuple(history_files(store, "charges", day)),
        tuple(history_files(store, SUBJECTS, day)),
    )


def register_month_state(con: duckdb.DuckDBPyConnection, state: ChargingState) -> dict[str, int]:
    """Views ``charges_history`` and ``subjects_history`` over ``state``'s files (local
    copies of a remote OUT's); returns file counts."""
    counts = {}
    for view, infos in (
        ("charges_history", state.charges_history),
        ("subjects_history", state.subjects_history),
    ):
        files = [state.output.local(f.rel) for f in infos]
        counts[view] = len(files)
        relation_over_files(
            con, view, files, COLUMNS[view], empty_history(view), partition_date=True
        )
    return counts


def register_history(
    con: duckdb.DuckDBPyConnection, out: Location | Store, day: date
) -> dict[str, int]:
    """``register_month_state`` of ``day``'s month state (for replays: ``audit/trace``)."""
    return register_month_state(con, month_state(out, day))
