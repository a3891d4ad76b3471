"""Runs the SQL files of ``sql/``: each file is one SELECT that becomes a temp table
named after the file, so the steps read like a pipeline and each can be tested alone."""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from pathlib import Path

import duckdb
import polars as pl

from flexbatch.resources import sql_text
from flexbatch.storage.literal import duckdb_files
from flexbatch.tables import table

logger = logging.getLogger(__name__)


def run_step(con: duckdb.DuckDBPyConnection, step: str, *, view: bool = False) -> int | None:
    """Materialise ``sql/<step>.sql`` as temp table ``step`` and return its row count, or
    define it as a view (for event-sized steps read by few later steps) and return None."""
    started = time.perf_counter()
    if view:
        con.execute(f"create or replace temp view {step} as\n{sql_text(step)}")
        return None
    con.execute(f"create or replace temp table {step} as\n{sql_text(step)}")
    ((rows,),) = con.execute(f"select count(*) from {step}").fetchall()
    logger.debug("step %s: %d rows in %.3fs", step, rows, time.perf_counter() - started)
    return int(rows)


# Polars sorts a copy outside DuckDB's memory limit: fast for a day's usual sizes, but on
# the 100 M-event day (8 M+ subject rows) it raised the peak from 5.15 to 6.18 GiB, so past
# this many rows DuckDB sorts, within its limit (spilling).
POLARS_SORT_MAX_ROWS = 2_000_000


def sorted_lazy(con: duckdb.DuckDBPyConnection, select: str, table_path: str) -> pl.LazyFrame:
    """The rows of ``select`` in the published table's order (files are deterministic), as
    a LazyFrame whose sort runs where it is collected: the day's writer thread sorts the
    charging tables while the credit ledger runs (``job/writer.py``). Sorted by Polars when
    the order is the table's unique key and the rows are few enough
    (``POLARS_SORT_MAX_ROWS``), else by DuckDB's ORDER BY here, within its memory limit.
    Ascending, nulls last: DuckDB's default, so either way gives the same rows in the same
    order."""
    spec = table(table_path)
    columns = spec.key_order
    if columns is not None:
        ((rows,),) = con.execute(f"select count(*) from ({select})").fetchall()
        if rows <= POLARS_SORT_MAX_ROWS:
            return con.sql(select).pl().lazy().sort(columns, nulls_last=True)
    return con.sql(f"{select} order by {spec.order}").pl().lazy()


def sorted_frame(con: duckdb.DuckDBPyConnection, select: str, table_path: str) -> pl.DataFrame:
    """``sorted_lazy``, collected now."""
    return sorted_lazy(con, select, table_path).collect()


def relation_over_files(
    con: duckdb.DuckDBPyConnection,
    name: str,
    files: Sequence[Path],
    columns: str,
    empty: str,
    *,
    materialise: bool = False,
    partition_date: bool = False,
) -> None:
    """Temp view (or table) ``name`` of ``columns`` over Parquet ``files`` (with
    ``partition_date``, the ``date=`` of their paths is column ``date``); the typed
    ``empty`` SELECT when there are no files, so later steps never miss a relation."""
    if files:
        hive = (
            "hive_partitioning = true, hive_types = {'date': 'date'}"
            if partition_date
            else "hive_partitioning = false"
        )
        body = f"select {columns} from read_parquet({duckdb_files(files)}, {hive})"
    else:
        body = empty
    kind = "table" if materialise else "view"
    con.execute(f"create or replace temp {kind} {name} as {body}")
