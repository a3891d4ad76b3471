"""Runs the SQL files of ``sql/``: each file is one SELECT that becomes a temp table
named after the file, so the steps read like a pipeline and each can be tested alone."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Collection, Mapping, Sequence
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import duckdb
import polars as pl

from flexbatch.resources import sql_text
from flexbatch.storage.literal import duckdb_files, sql_string
from flexbatch.tables import table

if TYPE_CHECKING:
    import pyarrow as pa

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
    it, Polars sorts them (``sort_by_key``) when the order is one ``sort_by_key`` gives
    exactly as DuckDB's ORDER BY does (``_polars_order``), else DuckDB's ORDER BY does."""
    spec = table(table_path)
    relation = con.sql(select)
    ((rows,),) = con.execute(f"select count(*) from ({select})").fetchall()
    ordered = f"{select} order by {spec.order}"
    if rows > POLARS_SORT_MAX_ROWS and scratch is not None:
        return _sorted_file(con, ordered, scratch / f"{spec.name}.parquet")
    types = {c: t.id for c, t in zip(relation.columns, relation.types, strict=True)}
    order = _polars_order(spec.order, types)
    if order is not None and rows <= POLARS_SORT_MAX_ROWS:
        columns, nulls_first = order
        return _deferred(relation.to_arrow_table(), lambda f: sort_by_key(f, columns, nulls_first))
    return _deferred(con.sql(ordered).to_arrow_table(), lambda f: f)


def _deferred(rows: pa.Table, then: Callable[[pl.DataFrame], pl.DataFrame]) -> pl.LazyFrame:
    """``rows`` as a LazyFrame that becomes a Polars frame, and ``then``, only when
    collected. DuckDB builds Arrow in its own allocator, from the pages the day's step
    tables free as they are dropped, where a Polars frame made now would be new memory on
    top of them (1,000,000 accounts, under load: the day's peak 4.0-4.1 -> 3.6-3.7 GiB); the writer
    makes each table's frame in turn and frees it once written."""
    schema = pl.DataFrame(rows.slice(0, 0)).schema
    return pl.defer(lambda: then(pl.DataFrame(rows)), schema=schema)


# DuckDB types whose order Polars' sort repeats exactly and whose equal values are equal
# bytes (not floats: -0.0 and 0.0 tie, and NaN), so rows tied under the order are rows
# DuckDB may put in either order too
_EXACT_ORDER_TYPES = frozenset(
    {"varchar", "date", "boolean", "tinyint", "smallint", "integer", "bigint"}
    | {"utinyint", "usmallint", "uinteger", "ubigint"}
)


def _polars_order(order: str, types: Mapping[str, str]) -> tuple[list[str], set[str]] | None:
    """The columns of ``order`` and those of them sorted ``nulls first`` when every term is
    an ascending column (nulls last unless it says ``nulls first``: DuckDB's default) of an
    exact-order type (``types``: DuckDB's type id per column), else None (DuckDB sorts)."""
    columns: list[str] = []
    nulls_first: set[str] = set()
    for term in order.split(","):
        column, *modifier = term.split()
        if types.get(column) not in _EXACT_ORDER_TYPES:
            return None
        if modifier == ["nulls", "first"]:
            nulls_first.add(column)
        elif modifier:
            return None
        columns.append(column)
    return columns, nulls_first


def _sorted_file(con: duckdb.DuckDBPyConnection, ordered: str, path: Path) -> Path:
    """The rows of the ORDER BY query ``ordered``, in order, in the Parquet file ``path``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    con.execute("set preserve_insertion_order = true")  # the file keeps the ORDER BY
    try:
        con.execute(f"copy ({ordered}) to {sql_string(str(path))} (format parquet)")
    finally:
        con.execute("set preserve_insertion_order = false")
    return path


# Rows of which at most one in this many sorts before the row above it come in long
# ordered runs (a ledger step's output, a window's partitions interleaved by DuckDB's
# threads): Polars' stable sort merges runs in about one pass, where ranking the columns
# hashes every value (grant_state: 0.02 s against 0.4 s). Rows out of order (a hash
# aggregate's, usage_daily) are ranked: 0.4 s where Polars' sort took 0.9 s. The share is
# taken on the first ``RUN_SAMPLE_ROWS`` rows: it only chooses the faster way.
RUN_SORT_DESCENTS = 20
RUN_SAMPLE_ROWS = 65_536


def _descents(frame: pl.DataFrame, columns: Sequence[str]) -> int:
    """How many rows of ``frame`` sort strictly before the row above them by ``columns``
    (a null compares as nothing: this only picks the faster sort)."""
    before, tied = pl.lit(False), pl.lit(True)
    for column in columns:
        current, above = pl.col(column), pl.col(column).shift(1)
        before = before | (tied & (current < above))
        tied = tied & current.eq_missing(above)
    return int(frame.select(before.sum()).item())


def sort_by_key(
    frame: pl.DataFrame, columns: Sequence[str], nulls_first: Collection[str] = ()
) -> pl.DataFrame:
    """``frame`` sorted by ``columns``, ascending, nulls last but for ``nulls_first``; rows
    tied on every column keep no particular order (a key has no ties). Rows that arrive
    in long ordered runs get Polars' stable sort (``RUN_SORT_DESCENTS``). Otherwise each
    column becomes the rank of its value among the column's distinct values (a sort of
    those few values), and the ranks are packed into one 64-bit integer, mixed radix,
    whose sort is a sort of machine words: Polars' own multi-column sort row-encodes the
    strings, and took 1.5 s for the 1.3 M subjects of the 10 M-event day where this takes
    0.85 s. When the ranks so far would not fit 64 bits with the next column's, they are
    first replaced by their rank among the rows (at most one per row)."""
    sample = frame.head(RUN_SAMPLE_ROWS)
    if _descents(sample, columns) * RUN_SORT_DESCENTS <= sample.height:
        nulls_last = [c not in nulls_first for c in columns]
        by = pl.arg_sort_by(columns, nulls_last=nulls_last, maintain_order=True)
        return _gathered(frame, frame.select(by).to_series())
    packed: pl.Series | None = None
    radix = 1  # the number of values ``packed`` can take
    for column in columns:
        values = frame.get_column(column)
        distinct = values.unique().sort(nulls_last=column not in nulls_first)
        if len(distinct) < 2:  # a constant column orders nothing
            continue
        ranks = pl.Series(range(len(distinct)), dtype=pl.UInt64)
        code = values.replace_strict(distinct, ranks, return_dtype=pl.UInt64)
        if packed is None:
            packed, radix = code, len(distinct)
            continue
        if radix * len(distinct) > 2**64:  # the columns so far as their rank among rows
            packed = packed.rank("dense").cast(pl.UInt64) - 1
            radix = int(packed.max()) + 1  # type: ignore[arg-type]
        packed, radix = packed * len(distinct) + code, radix * len(distinct)
    if packed is None:
        return frame
    return _gathered(frame, packed.arg_sort())


def _gathered(frame: pl.DataFrame, order: pl.Series) -> pl.DataFrame:
    """The rows of ``frame`` at ``order``. Each column is gathered from one chunk: DuckDB
    hands a chunk per batch over, and gathering across chunks cost ~10x what it costs
    from one (0.5 s against 0.04 s for usage_daily's 547,000 rows at 200,000 accounts);
    column by column, only one column's contiguous copy is held at a time."""
    return pl.DataFrame([frame.get_column(c).rechunk().gather(order) for c in frame.columns])


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
