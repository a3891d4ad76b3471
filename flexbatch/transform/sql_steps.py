"""Runs the SQL files of ``sql/``: each file is one SELECT that becomes a temp table
named after the file, so the steps read like a pipeline and each can be tested alone."""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Mapping, Sequence
from datetime import date, datetime, timedelta
from pathlib import Path

import duckdb
import polars as pl

from flexbatch.resources import sql_text
from flexbatch.storage.literal import duckdb_files, sql_string
from flexbatch.tables import table

logger = logging.getLogger(__name__)


def run_step(
    con: duckdb.DuckDBPyConnection,
    step: str,
    *,
    view: bool = False,
    params: Mapping[str, object] | None = None,
) -> int | None:
    """Materialise ``sql/<step>.sql`` as temp table ``step`` and return its row count, or
    define it as a view (for event-sized steps read by few later steps) and return None.
    ``params`` are the step's prepared parameters (``$transfer_order`` in its SQL)."""
    started = time.perf_counter()
    if view:
        con.execute(f"create or replace temp view {step} as\n{sql_text(step)}")
        return None
    con.execute(f"create or replace temp table {step} as\n{sql_text(step)}", params or None)
    ((rows,),) = con.execute(f"select count(*) from {step}").fetchall()
    logger.debug("step %s: %d rows in %.3fs", step, rows, time.perf_counter() - started)
    return int(rows)


# Polars sorts a copy outside DuckDB's memory limit: fast for a day's usual sizes, but on
# the 100 M-event day (8 M+ subject rows) it raised the peak from 5.15 to 6.18 GiB, so past
# this many rows DuckDB sorts, within its limit (spilling), into a scratch Parquet file
# that the writer streams into the table's file.
POLARS_SORT_MAX_ROWS = 2_000_000


def sorted_lazy(
    con: duckdb.DuckDBPyConnection, select: str, table_path: str, scratch: Path | None = None
) -> pl.LazyFrame | Path:
    """The rows of ``select`` in the published table's order (files are deterministic):
    a LazyFrame whose sort runs where it is collected (the day's writer thread sorts while
    the credit ledger runs, ``job/writer.py``), or a Parquet file of the sorted rows.
    Past ``POLARS_SORT_MAX_ROWS`` rows, DuckDB sorts them within its memory limit into a
    file under ``scratch`` (when given: the rows then never sit in Python's memory); below
    it, Polars sorts them (``sort_by_key``) when the order is the table's unique key, else
    DuckDB's ORDER BY does. Ascending, nulls last: DuckDB's default, so either way gives the
    same rows in the same order."""
    spec = table(table_path)
    ((rows,),) = con.execute(f"select count(*) from ({select})").fetchall()
    ordered = f"{select} order by {spec.order}"
    if rows > POLARS_SORT_MAX_ROWS and scratch is not None:
        return _sorted_file(con, ordered, scratch / f"{spec.name}.parquet")
    columns = spec.key_order
    if columns is not None and rows <= POLARS_SORT_MAX_ROWS:
        frame = con.sql(select).pl()
        return frame.lazy().map_batches(lambda f: sort_by_key(f, columns), schema=frame.schema)
    return con.sql(ordered).pl().lazy()


def _sorted_file(con: duckdb.DuckDBPyConnection, ordered: str, path: Path) -> Path:
    """The rows of the ORDER BY query ``ordered``, in order, in the Parquet file ``path``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    con.execute("set preserve_insertion_order = true")  # the file keeps the ORDER BY
    try:
        con.execute(f"copy ({ordered}) to {sql_string(str(path))} (format parquet)")
    finally:
        con.execute("set preserve_insertion_order = false")
    return path


def sort_by_key(frame: pl.DataFrame, columns: Sequence[str]) -> pl.DataFrame:
    """``frame`` sorted by ``columns``, a unique key (no ties), ascending, nulls last.
    Each column becomes the rank of its value among the column's distinct values (a sort
    of those few values), and the ranks are packed into one 64-bit integer, mixed radix,
    whose sort is a sort of machine words: Polars' own multi-column sort row-encodes the
    strings, and took 1.5 s for the 1.3 M subjects of the 10 M-event day where this takes
    0.85 s. A key whose ranks do not fit 64 bits gets Polars' sort."""
    codes: list[pl.Series] = []
    radixes: list[int] = []
    for column in columns:
        values = frame.get_column(column)
        distinct = values.unique().sort(nulls_last=True)
        if len(distinct) > 1:  # a constant column orders nothing
            ranks = pl.Series(range(len(distinct)), dtype=pl.UInt64)
            codes.append(values.replace_strict(distinct, ranks, return_dtype=pl.UInt64))
            radixes.append(len(distinct))
    if not codes:
        return frame
    if math.prod(radixes) > 2**64:
        return frame.sort(columns, nulls_last=True)
    packed = codes[0]
    for code, radix in zip(codes[1:], radixes[1:], strict=True):
        packed = packed * radix + code
    return frame.select(pl.all().gather(packed.arg_sort()))


def sorted_frame(con: duckdb.DuckDBPyConnection, select: str, table_path: str) -> pl.DataFrame:
    """``sorted_lazy``, collected now."""
    frame = sorted_lazy(con, select, table_path)
    assert isinstance(frame, pl.LazyFrame)  # no scratch folder: no file
    return frame.collect()


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


def register_run_context(
    con: duckdb.DuckDBPyConnection,
    day: date,
    previous_day: date | None,
    forecast_horizon_days: int | None,
) -> None:
    """Temp table ``run_context``, the one row of the day the steps cross join: each stage
    registers it from its own arguments in its own connection."""
    con.execute(
        "create or replace temp table run_context as select "
        "cast(? as date) as day, cast(? as timestamp) as day_start, "
        "cast(? as timestamp) as day_end, cast(? as date) as month_start, "
        "cast(? as date) as previous_day, cast(? as integer) as forecast_horizon_days",
        [
            day,
            datetime.combine(day, datetime.min.time()),
            datetime.combine(day + timedelta(days=1), datetime.min.time()),
            day.replace(day=1),
            previous_day,
            forecast_horizon_days,
        ],
    )
