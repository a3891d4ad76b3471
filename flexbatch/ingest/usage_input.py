"""Reads one day of usage files (SPEC §3.1) into the ``raw_events`` view.

Files of a day may differ in column order, carry extra columns and use different but
compatible physical types (timestamp units, naive or zoned). Each file's schema is
checked from its footer first; files are then read together in groups of one type
signature, each group cast to the canonical types, so nothing is read twice.
"""

from __future__ import annotations

import json
import logging
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING

from flexbatch.errors import InputSchemaError, MissingPartitionError, one_line
from flexbatch.storage.literal import duckdb_files
from flexbatch.storage.stores import FileInfo, Location, Store, store_of

if TYPE_CHECKING:  # DuckDB and pyarrow load with the job that uses them, not with status
    import duckdb
    import pyarrow as pa

logger = logging.getLogger(__name__)

STRING_COLUMNS = (
    "event_id",
    "account_id",
    "scope_id",
    "product_code",
    "meter",
    "user_id",
    "resource_id",
)
REQUIRED_COLUMNS = (*STRING_COLUMNS[:5], "ts", *STRING_COLUMNS[5:], "quantity")

EMPTY_RAW_EVENTS = """
select
    cast(null as varchar) as event_id, cast(null as timestamp) as ts,
    cast(null as varchar) as account_id, cast(null as varchar) as scope_id,
    cast(null as varchar) as product_code, cast(null as varchar) as meter,
    cast(null as varchar) as user_id, cast(null as varchar) as resource_id,
    cast(null as double) as quantity, cast(null as varchar) as source_file,
    cast(null as bigint) as source_row
where false
"""


def partition_rel(day: date) -> str:
    return f"usage/date={day.isoformat()}"


def partition_dir(input_root: Path, day: date) -> Path:
    return input_root / partition_rel(day)


@dataclass(frozen=True)
class DayListing:
    """IN's usage partition of one day, listed once: the files the day reads are the files
    its ``runs`` row records (``manifest``) and those it reports unread (``unread``)."""

    day: date
    files: tuple[FileInfo, ...]  # the usage files, sorted by path
    unread: tuple[str, ...]  # entries of the partition not read, relative to IN, sorted

    @property
    def folder(self) -> str:
        return partition_rel(self.day)

    @property
    def manifest(self) -> str:
        """JSON list of [path, size, mtime_ns] of the files read (the ``runs`` row's
        ``input_manifest``; on a Hadoop store mtime has millisecond precision)."""
        return json.dumps([[f.rel, f.size, f.mtime_ns] for f in self.files])

    def paths(self, store: Store) -> list[Path]:
        """Local copies of the files (a remote IN's are fetched into its cache)."""
        return [store.local(f.rel) for f in self.files]


def list_day(input_root: Location | Store, day: date) -> DayListing:
    """The day's listing; MissingPartitionError when IN has no folder for it (an existing
    empty folder is a day with no usage)."""
    store = store_of(input_root)
    folder = require_partition(store, day)
    entries = store.list_files(folder)
    files = tuple(f for f in entries if is_usage_file(f.name))
    unread = [f.rel for f in entries if not is_usage_file(f.name) and not _hidden(f.name)]
    unread += [f"{folder}/{name}/" for name in store.list_dirs(folder) if not _hidden(name)]
    return DayListing(day, files, tuple(sorted(unread)))


def require_partition(input_root: Location | Store, day: date) -> str:
    """The day's folder under IN; MissingPartitionError when IN has none (checked before a
    command writes anything, without listing it)."""
    store = store_of(input_root)
    folder = partition_rel(day)
    if not store.is_dir(folder):
        raise MissingPartitionError(
            f"{store.display(folder)}: usage partition for {day} is missing; fix: deliver "
            "the day's files (an empty folder means a day without usage)"
        )
    return folder


def is_usage_file(name: str) -> bool:
    """A usage file of a partition: ``*.parquet``, not hidden (``.``/``_`` prefixes are
    writers' temporary and marker files)."""
    return name.endswith(".parquet") and not name.startswith((".", "_"))


def _kind(column: str, dtype: pa.DataType) -> str | None:
    """How a column of this physical type is read, or None when the type is wrong."""
    import pyarrow as pa

    if pa.types.is_null(dtype):
        return "null"
    if pa.types.is_dictionary(dtype):
        dtype = dtype.value_type
    if column == "ts":
        if pa.types.is_timestamp(dtype):
            if dtype.unit == "ns":  # zoned or not: truncated from the epoch
                return "timestamp_ns"
            return "timestamp_tz" if dtype.tz else "timestamp"
        return None
    if column == "quantity":
        numeric = pa.types.is_floating(dtype) or pa.types.is_integer(dtype)
        return "number" if numeric or pa.types.is_decimal(dtype) else None
    if (
        pa.types.is_string(dtype)
        or pa.types.is_large_string(dtype)
        or pa.types.is_string_view(dtype)
    ):
        return "string"
    return None


EXPECTED = {**{c: "string" for c in STRING_COLUMNS}, "ts": "timestamp", "quantity": "float64"}


def _footer_schema(store: Store, info: FileInfo) -> pa.Schema:
    """The schema of a Parquet file from its footer alone (two small reads, however big
    the file): the footer framed as a file of its own is all pyarrow needs for it."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    tail = store.read_range(info.rel, info.size - 8, 8) if info.size >= 12 else b""
    if len(tail) != 8 or tail[4:] != b"PAR1":
        raise OSError("no Parquet footer")
    length = int.from_bytes(tail[:4], "little")
    if length > info.size - 12:
        raise OSError("Parquet footer length out of range")
    footer = store.read_range(info.rel, info.size - 8 - length, length)
    return pq.read_schema(pa.BufferReader(b"PAR1" + footer + tail))


# DuckDB's virtual columns of read_parquet: a file column of the same name hides them, so
# files that have one are read with their columns renamed by position (see raw_events_sql).
VIRTUAL_COLUMNS = frozenset({"filename", "file_row_number", "file_index"})


def file_signature(path: Path | FileInfo, store: Store | None = None) -> tuple[str, ...]:
    """Per required column, how to read it; raises InputSchemaError naming file and column.
    A ``FileInfo`` is read from ``store``'s footer bytes (a file of a remote IN)."""
    shown, schema = _file_schema(path, store)
    return schema_signature(shown, schema)


def _file_schema(path: Path | FileInfo, store: Store | None = None) -> tuple[str, pa.Schema]:
    """The file's name for messages and its schema, from the footer alone."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    info = path if isinstance(path, FileInfo) else None
    shown = str(path) if info is None else store.display(info.rel)  # type: ignore[union-attr]
    try:
        schema = pq.read_schema(path) if info is None else _footer_schema(store, info)  # type: ignore[arg-type]
    except (pa.ArrowException, OSError) as exc:
        raise InputSchemaError(
            f"{shown}: not a readable Parquet file ({exc}); fix: replace the file"
        ) from exc
    return shown, schema


def schema_signature(path: str, schema: pa.Schema) -> tuple[str, ...]:
    """Per required column of a file with ``schema``, how to read it; InputSchemaError
    naming the file and the column when one is missing, repeated or of a wrong type."""
    names = schema.names
    signature = []
    for column in REQUIRED_COLUMNS:
        if column not in names:
            raise InputSchemaError(
                f"{path}: required column '{column}' is missing; fix: write '{column}' "
                f"({EXPECTED[column]}) in every usage file"
            )
        if names.count(column) > 1:
            raise InputSchemaError(
                f"{path}: column '{column}' appears {names.count(column)} times; fix: write "
                "each column once (rename or drop the copies)"
            )
        kind = _kind(column, schema.field(column).type)
        if kind is None:
            raise InputSchemaError(
                f"{path}: column '{column}' has type {schema.field(column).type}, expected "
                f"{EXPECTED[column]}; fix: write '{column}' as {EXPECTED[column]}"
            )
        signature.append(kind)
    return tuple(signature)


def _renamed_columns(schema: pa.Schema) -> tuple[str, ...]:
    """The file's column names when they must be renamed to be read (one hides a virtual
    column, or a name repeats), else ()."""
    names = schema.names
    clash = VIRTUAL_COLUMNS.intersection(names) or len(set(names)) != len(names)
    return tuple(names) if clash else ()


def _cast(column: str, kind: str, source: str | None = None) -> str:
    """``column`` in its canonical type, read from ``source`` (the column itself, or its
    positional name in a renamed file)."""
    target = {"ts": "timestamp", "quantity": "double"}.get(column, "varchar")
    value = source or column
    if kind == "null":
        return f"cast(null as {target}) as {column}"
    if kind == "timestamp_tz":
        return f"cast(timezone('UTC', {value}) as timestamp) as {column}"
    if kind == "timestamp_ns":
        # truncate to microseconds: a cast rounds, and 23:59:59.9999995 would become the
        # next day's midnight (and be quarantined as outside its partition day)
        return f"make_timestamp(epoch_ns({value}) // 1000) as {column}"
    return f"cast({value} as {target}) as {column}"


def raw_events_sql(input_root: Path, files: Sequence[Path]) -> str:
    """One SELECT over all files, a read_parquet per type signature, in canonical types."""
    if not files:
        return EMPTY_RAW_EVENTS
    # files are grouped by signature, and those that must be renamed also by their
    # exact column list (so the union of a group has that list's order)
    groups: dict[tuple[tuple[str, ...], tuple[str, ...]], list[str]] = defaultdict(list)
    for path in files:
        shown, schema = _file_schema(path)
        groups[schema_signature(shown, schema), _renamed_columns(schema)].append(str(path))
    prefix = str(input_root).rstrip("/") + "/"  # DuckDB's filename column is the real path
    selects = []
    for (signature, renamed), paths in sorted(groups.items()):
        # DuckDB's virtual columns filename and file_row_number give each row's origin;
        # no option adds a column, so no input column name can collide with one
        position = {name: f"c{i}" for i, name in reversed(list(enumerate(renamed)))}
        casts = ",\n    ".join(
            _cast(c, k, position.get(c)) for c, k in zip(REQUIRED_COLUMNS, signature, strict=True)
        )
        aliases = ", ".join(f"c{i}" for i in range(len(renamed)))
        alias = f" as renamed({aliases})" if renamed else ""
        selects.append(
            f"select\n    {casts},\n"
            f"    replace(filename, '{prefix.replace(chr(39), chr(39) * 2)}', '')"
            " as source_file,\n    file_row_number as source_row\n"
            f"from read_parquet({duckdb_files(paths)}, union_by_name = true,"
            f" hive_partitioning = false){alias}"
        )
    return "\nunion all\n".join(selects)


def register_raw_events(
    con: duckdb.DuckDBPyConnection, input_root: Location | Store, day: date | DayListing
) -> int:
    """Create view ``raw_events`` over the day's files (``day``'s listing, or listed now)
    of a local IN; returns the number of files."""
    store = store_of(input_root)
    listing = day if isinstance(day, DayListing) else list_day(store, day)
    files = listing.paths(store)
    input_root = store.local("")
    con.execute(f"create or replace temp view raw_events as\n{raw_events_sql(input_root, files)}")
    logger.debug("raw_events for %s: %d files", listing.day, len(files))
    return len(files)


def unreadable_file(
    con: duckdb.DuckDBPyConnection,
    input_root: Location | Store,
    listing: DayListing,
    exc: duckdb.Error,
) -> InputSchemaError | None:
    """After the day's steps failed with ``exc``: the first usage file of ``listing`` that
    cannot be read on its own (corrupt data pages under a valid footer, text that is not
    UTF-8, a timestamp beyond DuckDB's range), as a one-line error naming it and the fix;
    None when every file reads, so ``exc`` is not the input's fault. Only runs on that
    failure path, so a good night never reads a file twice for it."""
    import duckdb

    store = store_of(input_root)
    root = store.local("")
    columns = ", ".join(REQUIRED_COLUMNS)
    for path in listing.paths(store):
        try:  # hash() decodes and casts every required value of every row
            con.execute(f"select count(hash({columns})) from ({raw_events_sql(root, [path])})")
        except duckdb.Error as probe:
            problem = one_line(str(probe).split("\nLINE ")[0])
            return InputSchemaError(f"{path}: cannot be read: {problem}; fix: {_read_fix(problem)}")
    logger.debug("no usage file of %s fails on its own after: %s", listing.day, exc)
    return None


def _read_fix(problem: str) -> str:
    text = problem.lower()
    if "utf8" in text or "utf-8" in text:
        return "write text columns as valid UTF-8 (re-export the file from its source)"
    if "timestamp" in text:
        return (
            "a ts value is beyond any real event time (DuckDB holds years up to 294247); "
            "correct or drop that row and deliver the file again"
        )
    return "the file's data pages are damaged; deliver the file again from its source"


def unread_files(input_root: Location | Store, day: date, *, warn: bool = True) -> list[str]:
    """What the day's partition holds that is not read (``list_day``'s ``unread``)."""
    listing = list_day(input_root, day)
    if warn:
        warn_unread(store_of(input_root), listing)
    return list(listing.unread)


def warn_unread(store: Store, listing: DayListing) -> None:
    """Log what the partition holds that is not read, relative to IN: files that are not
    ``*.parquet`` (``late-events.csv``, an upper-case ``PART-9.PARQUET``) and subfolders
    (``/`` at the end). Hidden names (``.``/``_`` prefixes: writers' temporary and marker
    files such as ``_SUCCESS``) are expected and left out. The run records the list in
    ``runs.unread_files`` and ``status`` shows it."""
    if listing.unread:
        logger.warning(
            "%s: %d entries not read (only *.parquet files directly in the partition are "
            "usage files): %s",
            store.display(listing.folder),
            len(listing.unread),
            ", ".join(listing.unread),
            extra={"day": listing.day.isoformat(), "unread_files": list(listing.unread)},
        )


def _hidden(name: str) -> bool:
    return name.startswith((".", "_"))
