"""The books' files in OUT, read and written in one place.

```
OUT/statements/month=YYYY-MM/part-0.parquet           the month's statements (one file)
OUT/corrections/month=YYYY-MM/run-<run_id>.parquet    corrections booked in the month
OUT/_books/closes/YYYY-MM.json                        the close's commit record (closed)
OUT/_books/issued/month=YYYY-MM/credit_ledger.parquet the month's ledger as issued
OUT/_books/issued/month=YYYY-MM/focus.parquet         its FOCUS rows as issued
OUT/_books/basis/YYYY-MM.json                         an open month's statements' inputs
```

Each file is replaced by one rename (a reader sees the old file or the new one); a
month is closed once its commit record exists (:mod:`flexbatch.books.commit`).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from datetime import date
from pathlib import Path
from typing import BinaryIO

import polars as pl

from flexbatch.books import months as m
from flexbatch.books.frames import BALANCES, DayFiles
from flexbatch.storage.partitions import partition_day, table_files
from flexbatch.storage.publish import (
    clear_staging,
    processed_days,
    write_parquet,
)
from flexbatch.storage.stores import Store
from flexbatch.tables import table

BOOKS = "_books"
CLOSES = f"{BOOKS}/closes"
ISSUED = f"{BOOKS}/issued"
STAGED = "books"  # the staging folder of the books' files


def close_record_rel(month: date) -> str:
    return f"{CLOSES}/{m.label(month)}.json"


def issued_rel(month: date, name: str) -> str:
    return f"{ISSUED}/month={m.label(month)}/{name}.parquet"


def month_partition(table_name: str, month: date) -> str:
    return table(table_name).partition(m.label(month))


def statements_rel(month: date) -> str:
    """The month's statements file (one file: the month is its folder)."""
    return f"{month_partition('statements', month)}/part-0.parquet"


def closed_months(store: Store) -> dict[date, dict]:
    """Every closed month with its close record (``run_id``, ``closed_at``), in order."""
    found = {}
    for info in store.list_files(CLOSES):
        if info.name.endswith(".json") and not info.name.startswith("."):
            month = m.parse_month(info.name.removesuffix(".json"))
            found[month] = json.loads(store.read_bytes(info.rel))
    return dict(sorted(found.items()))


def first_open_month(store: Store) -> date | None:
    """The month after the latest closed one (None while no month is closed)."""
    closed = closed_months(store)
    return m.next_month(max(closed)) if closed else None


def statement_months(store: Store) -> list[date]:
    """Months that have a statements file."""
    spec = table("statements")
    return sorted(
        m.parse_month(folder.split("=", 1)[1])
        for folder in store.list_dirs(spec.path)
        if folder.startswith(f"{spec.partition_key}=")
        and store.exists(f"{spec.path}/{folder}/{spec.file_name('')}")
    )


def _read(store: Store, rels: list[str], columns: list[str] | None = None) -> list[pl.DataFrame]:
    return [pl.read_parquet(store.local(rel), columns=columns, glob=False) for rel in rels]


def balance_files(
    store: Store, months: Iterable[date], processed: Iterable[date] | None = None
) -> DayFiles | None:
    """The ``balances`` files of every processed day of ``months`` (local copies, as
    ``read_partitions`` reads them) with their days, for the statements to read as they
    aggregate: a month of rows (one per account and day, 40 M at 1,000,000 accounts) is
    never one frame. ``processed``: the days to read (those the caller listed), else
    every processed day, listed now. None if there are none."""
    wanted = set(months)
    listed = processed_days(store) if processed is None else processed
    days = {d for d in listed if m.month_of(d) in wanted}
    found = [f for f in table_files(store, "balances") if partition_day(f) in days]
    if not found:
        return None
    paths = [str(store.local(f.rel)) for f in found]
    return DayFiles(paths, [partition_day(f) for f in found], BALANCES)


def read_statements(store: Store, months: Iterable[date]) -> pl.DataFrame | None:
    """The published statements of ``months``, with ``month`` (from the folder)."""
    frames = []
    for month in months:
        rel = statements_rel(month)
        if store.exists(rel):
            frames.append(published_statements(store.local(rel), month))
    return pl.concat(frames) if frames else None


def published_statements(source: Path | BinaryIO, month: date) -> pl.DataFrame:
    """A month's statements file read, with ``month`` (its folder)."""
    from flexbatch.books.statements import COLUMNS

    frame = pl.read_parquet(source, glob=False)  # a path is a file, not a pattern
    return frame.with_columns(pl.lit(month).alias("month")).select(COLUMNS)


def read_issued(store: Store, months: Iterable[date]) -> pl.DataFrame:
    """The statements of closed ``months`` (``read_statements``); a missing file is an
    error (a closed month always has its statements)."""
    issued = read_statements(store, months)
    if issued is None:
        raise FileNotFoundError(f"{store.display('statements')}: a closed month has no statements")
    return issued


def read_corrections(store: Store) -> pl.DataFrame | None:
    """Every correction booked so far."""
    spec = table("corrections")
    rels = [
        f.rel
        for f in store.walk(spec.path, 2)
        if f.name.endswith(".parquet") and not f.name.startswith((".", "_"))
    ]
    frames = _read(store, rels)
    return pl.concat(frames) if frames else None


def read_restatements(store: Store, months: Iterable[date]) -> pl.DataFrame | None:
    """The ``restatements`` rows (with ``date``) of the days of ``months``."""
    spec = table("restatements")
    wanted = set(months)
    frames = []
    for folder in store.list_dirs(spec.path):
        day = date.fromisoformat(folder.split("=", 1)[1])
        if m.month_of(day) in wanted:
            for info in store.list_files(f"{spec.path}/{folder}"):
                if info.name.endswith(".parquet") and not info.name.startswith("."):
                    frame = pl.read_parquet(store.local(info.rel), glob=False)
                    frames.append(frame.with_columns(pl.lit(day).alias("date")))
    return pl.concat(frames, how="diagonal_relaxed") if frames else None


def put_frame(store: Store, frame: pl.DataFrame, rel: str, model: str | None = None) -> str:
    """Validate ``frame`` against the table's model and put it at ``rel`` by one rename;
    the file's sha256 (of the bytes put)."""
    if model is not None:
        from flexbatch.schemas import OUTPUT_MODELS  # pandera: only when writing

        OUTPUT_MODELS[model].validate(frame)
    local = store.staging / STAGED / rel
    write_parquet(frame, local)
    digest = hashlib.sha256(local.read_bytes()).hexdigest()
    store.put(local, rel)
    store.sync([rel])
    clear_staging(store, STAGED)
    return digest


def write_statements(store: Store, month: date, frame: pl.DataFrame) -> str:
    """The month's statements file (the month is its folder, not a column of it); its
    sha256."""
    return put_frame(store, frame.drop("month"), statements_rel(month), "statements")


def write_corrections(store: Store, month: date, frame: pl.DataFrame, run_id: str) -> None:
    name = table("corrections").file_name(run_id)
    put_frame(store, frame, f"{month_partition('corrections', month)}/{name}", "corrections")
