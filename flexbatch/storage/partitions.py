"""Reading OUT's day partitions: the one place every layer (the month state, the credit
state, restatements, serving, simulate, publication) finds a table's files.

One rule says which files of a partition folder belong to the table: ``is_table_file``.
A table's own files are ``part-0.parquet`` or ``run-<run_id>.parquet``; names starting
with ``.`` or ``_`` are writers' temporary and marker files (a half-copied
``.part-0.parquet.tmp``, Spark's ``_SUCCESS``, a ``_x.parquet`` left by a tool), never
rows of the table.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING

from flexbatch.storage.stores import FileInfo, Location, Store, store_of
from flexbatch.tables import table

if TYPE_CHECKING:
    import polars as pl


def is_table_file(name: str) -> bool:
    """A file of a table's partition: ``*.parquet``, not hidden (``.``/``_`` prefixes)."""
    return name.endswith(".parquet") and not name.startswith((".", "_"))


def partition_files(store: Store, table_path: str, day: date | str) -> list[FileInfo]:
    """The files of ``table_path``'s partition of ``day``, sorted (none if absent)."""
    folder = table(table_path).partition(day)
    return [f for f in store.list_files(folder) if is_table_file(f.name)]


def day_paths(out: Location | Store, table_path: str, days: Iterable[date | None]) -> list[Path]:
    """Local copies of the files of ``table_path``'s partitions of ``days`` (a None day,
    such as the first day's previous day, has none), in the order of ``days``."""
    store = store_of(out)
    return [
        store.local(f.rel)
        for day in days
        if day is not None
        for f in partition_files(store, table_path, day)
    ]


def table_files(store: Store, table_path: str) -> list[FileInfo]:
    """Every file of every partition of ``table_path`` (``KEY=VALUE/<file>``), sorted."""
    spec = table(table_path)
    prefix = f"{spec.partition_key}="
    return [
        info
        for info in store.walk(spec.path, 2)
        if info.folder.rsplit("/", 1)[-1].startswith(prefix) and is_table_file(info.name)
    ]


def partition_day(info: FileInfo) -> date:
    """The day of a file of a ``date=`` partition."""
    return date.fromisoformat(info.folder.rsplit("=", 1)[1])


def read_partitions(
    store: Store, files: Sequence[FileInfo], schema: Mapping[str, pl.DataType]
) -> pl.DataFrame:
    """The rows of ``files`` (files of a ``date=`` table's partitions) with ``schema``'s
    columns (null where a file lacks one, as a diagonal concat gives) and each row's
    partition ``date``. One scan of them all: a read per file costs ~1 ms, 0.4 s for a
    year of days. Each row's file is numbered (an Enum of the paths, not a join on the
    path text: 1.5 s less on a year of 13,000 balances rows a day) and its day looked up."""
    import polars as pl

    if not files:
        return pl.DataFrame(schema={**schema, "date": pl.Date})
    paths = [str(store.local(f.rel)) for f in files]
    days = pl.Series("date", [partition_day(f) for f in files], pl.Date)
    rows = pl.scan_parquet(
        paths,
        glob=False,
        schema=dict(schema),
        missing_columns="insert",
        extra_columns="ignore",
        include_file_paths="_file",
    )
    index = pl.col("_file").cast(pl.Enum(paths)).to_physical()
    return rows.with_columns(pl.lit(days).gather(index)).drop("_file").collect()
