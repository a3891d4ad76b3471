"""Read-only ad-hoc SQL over the output tables (``flexbatch sql``)."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import duckdb

from flexbatch.errors import ConfigError
from flexbatch.serving.views import register_views

READ_ONLY = {duckdb.StatementType.SELECT, duckdb.StatementType.EXPLAIN}


def run_query(out: Path, query: str, fmt: str, to_file: Path | None) -> None:
    if not out.is_dir():
        raise ConfigError(f"--output {out}: no such folder; fix: run flexbatch run first")
    con = duckdb.connect()
    con.execute("set TimeZone = 'UTC'")
    register_views(con, out)
    from flexbatch.serving.catalog import register_helper_views

    register_helper_views(con)
    try:
        statements = con.extract_statements(query)
        if not statements:
            raise ConfigError("sql: empty query; fix: pass one SELECT statement")
        for statement in statements:
            if statement.type not in READ_ONLY:
                raise ConfigError(
                    f"sql: {statement.type.name} statements are refused, the outputs are "
                    "read-only; fix: use SELECT"
                )
        relation = con.sql(query)
        _emit(con, relation, fmt, to_file)
    except duckdb.Error as exc:
        message = " ".join(str(exc).split())
        raise ConfigError(f"sql: {message}") from exc


def _emit(
    con: duckdb.DuckDBPyConnection,
    relation: duckdb.DuckDBPyRelation,
    fmt: str,
    to_file: Path | None,
) -> None:
    if fmt == "parquet":
        if to_file is None:
            import io

            import pyarrow.parquet as pq

            buffer = io.BytesIO()
            pq.write_table(relation.to_arrow_table(), buffer)
            sys.stdout.buffer.write(buffer.getvalue())
            return
        relation.write_parquet(str(to_file))
        return
    frame = relation.pl()
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
    if to_file is None:
        sys.stdout.write(text)
    else:
        to_file.write_text(text, encoding="utf-8")
