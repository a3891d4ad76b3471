"""The frames the books' pure functions take: their columns and types, and a DuckDB to
run ``sql/books`` on them (frames in, frame out; a month's ``balances`` may come as its
Parquet files instead, which DuckDB reads as it aggregates).

The column lists here load no validation library, so that ``status`` (which reads them)
answers at once; tests/test_startup.py pins each to its Pandera model (books/schemas.py)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING

import polars as pl

from flexbatch.resources import sql_text
from flexbatch.settings import Settings

if TYPE_CHECKING:
    import duckdb

Credits = pl.Decimal(38, 6)

BALANCES = {
    "account_id": pl.String,
    "currency": pl.String,
    "date": pl.Date,
    "opening": Credits,
    "granted": Credits,
    "transferred_in": Credits,
    "transferred_out": Credits,
    "consumed": Credits,
    "expired": Credits,
    "voided": Credits,
    "overdraft": Credits,
    "available": Credits,
}
# the published statements file, in its column order (the month is its folder, SPEC §8)
STATEMENTS = {
    "statement_id": pl.String,
    "account_id": pl.String,
    "currency": pl.String,
    "first_day": pl.Date,
    "last_day": pl.Date,
    "opening": Credits,
    "granted": Credits,
    "transferred_in": Credits,
    "transferred_out": Credits,
    "consumed": Credits,
    "expired": Credits,
    "voided": Credits,
    "closing": Credits,
    "overdraft": Credits,
    "charged": Credits,
    "corrections_consumed": Credits,
    "corrections_overdraft": Credits,
    "corrections_available": Credits,
    "status": pl.String,
    "closed_at": pl.Datetime("us"),
    "run_id": pl.String,
}
# the movements columns of a month's statements (account_id .. overdraft): what merges
# with more days' balances
_MOVED = list(STATEMENTS)[1 : list(STATEMENTS).index("overdraft") + 1]
MOVEMENTS = {"month": pl.Date, **{c: STATEMENTS[c] for c in _MOVED}}
# the published corrections file, in its column order
CORRECTIONS = {
    "correction_id": pl.String,
    "run_id": pl.String,
    "account_id": pl.String,
    "currency": pl.String,
    "closed_month": pl.Date,
    "booked_month": pl.Date,
    "reason": pl.String,
    "granted_delta": Credits,
    "transferred_in_delta": Credits,
    "transferred_out_delta": Credits,
    "consumed_delta": Credits,
    "expired_delta": Credits,
    "voided_delta": Credits,
    "overdraft_delta": Credits,
    "available_delta": Credits,
}
RESTATEMENTS = {
    "date": pl.Date,
    "run_id": pl.String,
    "account_id": pl.String,
    "currency": pl.String,
    "reason": pl.String,
}


def conformed(frame: pl.DataFrame | None, schema: Mapping[str, pl.DataType]) -> pl.DataFrame:
    """``frame`` with exactly ``schema``'s columns and types; a flow column it lacks
    (``voided`` before the grant lifecycle) is 0; None is an empty frame."""
    if frame is None:
        return pl.DataFrame(schema=dict(schema))
    columns = []
    for name, dtype in schema.items():
        if name in frame.columns:
            columns.append(pl.col(name).cast(dtype))
        elif dtype == Credits:
            columns.append(pl.lit(0).cast(dtype).alias(name))
        else:
            raise KeyError(f"frame has no column {name}")
    return frame.select(columns)


@dataclass(frozen=True)
class DayFiles:
    """A ``date=`` table's rows as its Parquet files (local paths) and each file's
    partition day. ``run_sql`` scans them as a view with ``schema``'s columns, conformed
    as ``conformed`` does a frame: the rows stream through the query, so a month of
    ``balances`` (a row per account and day) never sits in memory at once."""

    paths: Sequence[str]
    days: Sequence[date]
    schema: Mapping[str, pl.DataType]


# DuckDB's name of each type the books' frames use
_SQL_TYPES = {pl.String: "varchar", pl.Date: "date", Credits: "decimal(38, 6)"}


@dataclass(frozen=True)
class BooksMemory:
    """The books' DuckDB's room: memory for a month's aggregate (a row per account and
    currency), not its rows, and the folder it spills to past it; none: it spills
    nowhere (in memory, DuckDB would spill to ./.tmp of whatever folder the command
    runs in) and fails there."""

    memory_limit: str = Settings().memory_limit
    spill_dir: Path | None = None


# a writing command's room (its FLEXBATCH_MEMORY_LIMIT and staging folder), set around
# its books by ``books_memory``; readers (``status``) keep the default
_MEMORY: ContextVar[BooksMemory | None] = ContextVar("books_memory", default=None)


@contextmanager
def books_memory(memory: BooksMemory) -> Iterator[None]:
    """Within: every ``run_sql`` takes ``memory``."""
    token = _MEMORY.set(memory)
    try:
        yield
    finally:
        _MEMORY.reset(token)


def _quoted(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _register_files(con: duckdb.DuckDBPyConnection, name: str, files: DayFiles) -> None:
    """``files`` as the view ``name``: each row with its file's day from a (file, day)
    relation, not from the path (an OUT's root may itself hold ``x=1`` folders); a
    column no file has is 0 if it is credits (``voided`` before the grant lifecycle)."""
    days = pl.DataFrame(
        {"_file": list(files.paths), "date": list(files.days)},
        schema={"_file": pl.String, "date": pl.Date},
    )
    con.register(f"{name}_file_days", _ArrowStream(days))
    scan = (
        f"read_parquet([{', '.join(map(_quoted, files.paths))}], filename = '_file', "
        "union_by_name = true, hive_partitioning = false)"
    )
    present = set(con.sql(f"select * from {scan} limit 0").columns)
    columns = []
    for column, dtype in files.schema.items():
        sql_type = _SQL_TYPES[dtype]
        if column == "date":
            columns.append("d.date")
        elif column in present:
            columns.append(f'cast(b."{column}" as {sql_type}) as "{column}"')
        elif dtype == Credits:
            columns.append(f'cast(0 as {sql_type}) as "{column}"')
        else:
            raise KeyError(f"the files have no column {column}")
    con.execute(
        f"create view {name} as select {', '.join(columns)} from {scan} as b "
        f"inner join {name}_file_days as d on d._file = b._file"
    )


class _ArrowStream:
    """A frame as only an Arrow C stream: DuckDB scans it without pyarrow (given a Polars
    frame itself, DuckDB converts it through pyarrow, the larger part of ``status``'s
    imports). Each scan of the relation takes a new stream of the same frame."""

    def __init__(self, frame: pl.DataFrame) -> None:
        self.frame = frame

    def __arrow_c_stream__(self, requested_schema: object = None) -> object:
        return self.frame.__arrow_c_stream__(requested_schema)


def _connect() -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB in the room ``books_memory`` gives."""
    import duckdb  # here: readers of the books' frames (status) load no engine

    memory = _MEMORY.get() or BooksMemory()
    con = duckdb.connect()
    try:
        _configure(con, memory)
    except BaseException:
        con.close()
        raise
    return con


def _configure(con: duckdb.DuckDBPyConnection, memory: BooksMemory) -> None:
    con.execute("set TimeZone = 'UTC'")
    con.execute("set memory_limit = ?", [memory.memory_limit])
    if memory.spill_dir is None:
        con.execute("set temp_directory = ''")
    else:
        memory.spill_dir.mkdir(parents=True, exist_ok=True)
        con.execute("set temp_directory = ?", [str(memory.spill_dir)])
    con.execute("set preserve_insertion_order = false")  # callers sort the result
    con.execute("set enable_progress_bar = false")  # a long month prints no bar on a tty


def run_sql(step: str, relations: Mapping[str, pl.DataFrame | DayFiles]) -> pl.DataFrame:
    """``sql/books/<step>.sql`` over ``relations`` (registered by name: a frame, or
    ``DayFiles`` read in the query) in a private in-memory DuckDB; the result crosses
    back as an Arrow C stream too."""
    con = _connect()
    try:
        for name, source in relations.items():
            if isinstance(source, DayFiles):
                _register_files(con, name, source)
            else:
                con.register(name, _ArrowStream(source))
        return pl.DataFrame(con.sql(sql_text(step)))
    finally:
        con.close()
