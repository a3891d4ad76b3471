"""Read-only ad-hoc SQL over the output tables (``flexbatch sql``).

Read-only by construction, not by parsing the query: DuckDB gets no file access at all.
Each table's Parquet files under OUT are opened by pyarrow (a dataset over exactly the
files of its partitions, schemas unified by name as DuckDB's ``union_by_name`` does) and
registered as a view; then ``enable_external_access`` is turned off and the configuration
locked. A query can therefore read the views and nothing else: ``COPY``, ``EXPORT``,
``ATTACH`` of a file, ``INSTALL``/``LOAD``, ``read_csv``/``read_text`` of any path and
any ``SET`` fail inside DuckDB, whatever statement wraps them (``EXPLAIN ANALYZE COPY``).
Statements other than queries are still refused first, with one line.
"""

from __future__ import annotations

import io
import shutil
import sys
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.parquet as pq

from flexbatch.errors import ConfigError, one_line
from flexbatch.serving import result_file
from flexbatch.serving.views import register_computed_views
from flexbatch.storage.partitions import table_files
from flexbatch.storage.stores import LocalStore
from flexbatch.tables import COMPUTED_READS, MONTH, VIEWS, Table, empty_select, table

READ_ONLY = {duckdb.StatementType.SELECT, duckdb.StatementType.EXPLAIN}
# Types Polars prints and writes as they are; any other column is shown as DuckDB's text.
SCALAR_TYPES = frozenset(
    {
        "boolean", "tinyint", "smallint", "integer", "bigint", "utinyint", "usmallint",
        "uinteger", "ubigint", "float", "double", "decimal", "varchar", "date",
        "timestamp", "timestamp with time zone", "time",
    }
)  # fmt: skip
NESTED_TYPES = frozenset({"list", "struct", "array"})
SANDBOX_SETTINGS = (
    "set autoinstall_known_extensions = false",
    "set autoload_known_extensions = false",
    "set allow_community_extensions = false",
    "set python_enable_replacements = false",  # no Python variable is a table
    "set enable_progress_bar = false",  # a library call prints nothing (nor a notebook bar)
    "set enable_external_access = false",  # no file, network or extension: only the views
    "set lock_configuration = true",  # and no SET can give any of it back
)


def run_query(out: Path, query: str, fmt: str, to_file: Path | None) -> None:
    if not out.is_dir():
        raise ConfigError(f"--output {out}: no such folder; fix: run flexbatch run first")
    if to_file is not None:
        result_file.check_target(to_file, out, "sql")
    con = sandbox(out)
    try:
        _check_statements(con, query)
        _emit(con.sql(query), fmt, to_file)
    except duckdb.Error as exc:
        raise _query_error(exc) from exc
    finally:
        con.close()


def sandbox(out: Path) -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB whose only data are the views over ``out``'s tables and the
    90-day helper views, with file access off and the configuration locked."""
    from flexbatch.serving.catalog import register_helper_views

    con = duckdb.connect()
    con.execute("set TimeZone = 'UTC'")
    computed: dict[str, str | None] = {}
    for name in dict.fromkeys([*(spec.name for spec in VIEWS), *COMPUTED_READS]):
        spec = table(name)
        dataset = table_dataset(out, spec)
        if name in COMPUTED_READS:
            # read by a computed view (the forecast), under a name of its own
            computed[name] = None if dataset is None else f"_{name}_dataset"
            if dataset is not None:
                con.register(f"_{name}_dataset", dataset)
        if not spec.view or spec.computed:
            continue
        if dataset is None:
            con.execute(f"create view {spec.name} as {empty_select(spec.name)}")
        else:
            con.register(f"{spec.name}_files", dataset)
            con.execute(f"create view {spec.name} as {spec.view_select(spec.name + '_files')}")
    register_computed_views(con, computed)
    register_helper_views(con)
    for setting in SANDBOX_SETTINGS:
        con.execute(setting)
    return con


def table_dataset(out: Path, spec: Table) -> ds.Dataset | None:
    """The Parquet files of ``spec``'s partitions (``KEY=VALUE/*.parquet``, hidden files
    left out) as one pyarrow dataset with the partition column typed DATE; None when the
    table has no file yet."""
    files = [str(out / info.rel) for info in table_files(LocalStore(out), spec.path)]
    if not files:
        return None
    kind = pa.string() if spec.partition_key == MONTH else pa.date32()  # YYYY-MM: text
    key = pa.schema([(spec.partition_key, kind)])
    schema = pa.unify_schemas([*map(pq.read_schema, files), key], promote_options="permissive")
    partitioning = ds.partitioning(key, flavor="hive")
    return ds.dataset(
        files,
        schema=schema,
        format="parquet",
        partitioning=partitioning,
        partition_base_dir=str(out / spec.path),
    )


def _check_statements(con: duckdb.DuckDBPyConnection, query: str) -> None:
    statements = con.extract_statements(query)
    if not statements:
        raise ConfigError("sql: empty query; fix: pass one SELECT statement")
    for statement in statements:
        if statement.type not in READ_ONLY:
            raise ConfigError(
                f"sql: {statement.type.name} statements are refused, the outputs are "
                "read-only; fix: use SELECT"
            )


def _query_error(exc: duckdb.Error) -> ConfigError:
    first = one_line(str(exc).split("\nLINE ")[0])
    sandboxed = isinstance(exc, duckdb.PermissionException) or "configuration has been locked" in (
        first
    )
    if sandboxed:
        return ConfigError(
            f"sql: refused: {first}; flexbatch sql reads only the output views, never files, "
            "extensions or settings; fix: query the views by name (e.g. select * from charges)"
        )
    return ConfigError(f"sql: {first}; fix: correct the query")


def _emit(relation: duckdb.DuckDBPyRelation, fmt: str, to_file: Path | None) -> None:
    if fmt == "parquet":
        buffer = io.BytesIO()
        pq.write_table(_parquet_ready(relation).to_arrow_table(), buffer)
        _write(buffer.getvalue(), to_file)
        return
    frame = _printable(relation, nested_ok=fmt == "json").pl()
    if fmt == "table":
        import polars as pl

        width = shutil.get_terminal_size((200, 24)).columns
        with pl.Config(
            tbl_rows=-1,
            tbl_cols=-1,
            fmt_str_lengths=80,
            tbl_width_chars=width,
            tbl_hide_dataframe_shape=True,
        ):
            text = str(frame) + "\n"
    elif fmt == "csv":
        text = frame.write_csv()
    else:
        text = frame.write_json()
    _write(text.encode("utf-8"), to_file)


def _write(data: bytes, to_file: Path | None) -> None:
    if to_file is None:
        sys.stdout.flush()
        sys.stdout.buffer.write(data)
        sys.stdout.buffer.flush()
    else:
        result_file.write_bytes(data, to_file)


def _plain(kind: duckdb.typing.DuckDBPyType, nested_ok: bool) -> bool:
    """Whether Polars holds values of ``kind`` as they are (else they become text)."""
    if kind.id in SCALAR_TYPES:
        return True
    if nested_ok and kind.id in NESTED_TYPES:
        children = [t for name, t in kind.children if name != "size"]
        return all(_plain(child, nested_ok) for child in children)
    return False


def _printable(relation: duckdb.DuckDBPyRelation, nested_ok: bool) -> duckdb.DuckDBPyRelation:
    """``relation`` with each column Polars cannot hold (INTERVAL, HUGEINT, BLOB, UUID,
    MAP, UNION, BIT, ...; nested ones too unless ``nested_ok``) cast to DuckDB's text."""
    return _cast_columns(relation, lambda kind: _plain(kind, nested_ok))


def _parquet_ready(relation: duckdb.DuckDBPyRelation) -> duckdb.DuckDBPyRelation:
    """Parquet keeps every type it has; INTERVAL (no lossless Parquet type) becomes text."""
    return _cast_columns(relation, lambda kind: "interval" not in str(kind).lower())


def _cast_columns(relation: duckdb.DuckDBPyRelation, keep) -> duckdb.DuckDBPyRelation:  # type: ignore[no-untyped-def]
    if all(keep(kind) for kind in relation.types):
        return relation
    columns = []
    for name, kind in zip(relation.columns, relation.types, strict=True):
        ident = '"' + name.replace('"', '""') + '"'
        columns.append(ident if keep(kind) else f"cast({ident} as varchar) as {ident}")
    return relation.project(", ".join(columns))
