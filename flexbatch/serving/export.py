"""``flexbatch export TABLE``: one output table, filtered, as CSV, Parquet or FOCUS.

CSV is text a spreadsheet can open without surprises:

* timestamps are ISO-8601 UTC with a ``Z`` (``2026-09-01T00:00:00Z``; microseconds only
  when the value has them), dates ``YYYY-MM-DD``;
* decimals are their exact text (``0.100000`` stays ``0.100000``, never through a float),
  numbers keep their sign (``-5.000000``);
* a text cell that starts with ``=``, ``+``, ``-``, ``@``, TAB, CR or LF gets a leading
  single quote (OWASP "CSV injection": a spreadsheet would otherwise run it as a formula);
  numeric columns are never touched, so a negative amount stays a number;
* null is an empty cell; rows are sorted by every column, so an export is reproducible.

All formatting is one SQL projection per column type; Parquet keeps the types (the
partition column becomes a real ``DATE`` column). ``--format focus`` turns the credit
ledger into FinOps FOCUS rows (:mod:`flexbatch.serving.focus`), written as CSV, or as typed
Parquet when the target file ends in ``.parquet``.
"""

from __future__ import annotations

import io
import sys
from datetime import date
from pathlib import Path

import duckdb

from flexbatch.books import issued
from flexbatch.errors import ConfigError
from flexbatch.serving import focus, result_file
from flexbatch.serving.views import register_views
from flexbatch.tables import COMPUTED_VIEWS, VIEWS
from flexbatch.tables import table as registry_table

FORMATS = ("csv", "parquet", "focus")
# a view computed on read (forecast_daily) exports like the table it is computed from: it
# has rows when that table has files, and filters on that table's partition column
COMPUTED_FROM = {
    v.name: v.reads[0] for v in COMPUTED_VIEWS if v.name not in {t.name for t in VIEWS}
}
TABLES = (*(spec.name for spec in VIEWS), *COMPUTED_FROM)
FOCUS_TABLE = "credit_ledger"
ACCOUNT_TABLES = ("usage_daily", "balances", "credit_ledger", "charges")
# OWASP CSV injection: cells starting with these are read as formulas by spreadsheets.
FORMULA_START = "^[=+\\-@\t\r\n]"


def quote_ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def csv_expression(name: str, type_name: str) -> str:
    """The SQL that renders column ``name`` of DuckDB type ``type_name`` as CSV text."""
    col = quote_ident(name)
    kind = type_name.upper()
    if kind.startswith("TIMESTAMP"):
        fraction = f"microsecond({col}) % 1000000"
        text = (
            f"strftime({col}, '%Y-%m-%dT%H:%M:%S') || case when {fraction} <> 0 "
            f"then '.' || lpad(cast({fraction} as varchar), 6, '0') else '' end || 'Z'"
        )
    elif kind == "DATE":
        text = f"strftime({col}, '%Y-%m-%d')"
    elif kind == "BOOLEAN":
        text = f"case when {col} then 'true' when not {col} then 'false' end"
    elif kind.startswith("DECIMAL") or kind in NUMERIC_TYPES:
        text = f"cast({col} as varchar)"
    else:
        value = col if kind == "VARCHAR" else f"cast({col} as varchar)"
        text = (
            f"case when regexp_matches({value}, '{FORMULA_START}') "
            f"then '''' || {value} else {value} end"
        )
    return f"{text} as {col}"


NUMERIC_TYPES = {
    "TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT",
    "UTINYINT", "USMALLINT", "UINTEGER", "UBIGINT", "UHUGEINT",
    "FLOAT", "DOUBLE",
}  # fmt: skip


def csv_text(relation: duckdb.DuckDBPyRelation) -> str:
    """``relation`` as CSV text (header + rows), formatted as the module docstring says."""
    select = ", ".join(
        csv_expression(name, str(kind))
        for name, kind in zip(relation.columns, relation.types, strict=True)
    )
    return relation.project(select).pl().write_csv()


def export_table(
    out: Path,
    table: str,
    *,
    fmt: str,
    account: str | None,
    start: date | None,
    end: date | None,
    to_file: Path | None,
    provider: str = focus.DEFAULT_PROVIDER,
) -> None:
    """Write ``table`` of ``out`` (filtered by account and partition day) to ``to_file``,
    or to stdout when it is None; ``provider`` names the vendor in FOCUS rows."""
    _check_arguments(out, table, fmt, start, end, to_file)
    con = duckdb.connect()
    con.execute("set TimeZone = 'UTC'")
    views = register_views(con, out)
    views += [name for name, source in COMPUTED_FROM.items() if source in views]
    if table not in views:
        raise ConfigError(
            f"export: {table} has no partitions in {out}; fix: run flexbatch run first"
        )
    if account is not None:
        _check_account(con, views, table, account)
    if fmt == "focus":
        for needed in ("credit_ledger", "charges"):
            if needed not in views:
                raise ConfigError(f"export focus: {needed} has no partitions in {out}")
        relation = issued.focus_rows(  # closed months: their rows as issued (SPEC §8)
            con, out, account=account, start=start, end=end, provider=provider
        )
        if to_file is not None and to_file.suffix.lower() == ".parquet":
            _write_parquet(relation, to_file)
        else:
            _write_text(csv_text(relation), to_file)
        return
    if table == FOCUS_TABLE:  # closed months: the ledger as issued (SPEC §8)
        issued.register_issued_ledger(con, out)
    relation = _filtered(con, table, account, start, end)
    if fmt == "csv":
        _write_text(csv_text(relation), to_file)
    else:
        _write_parquet(relation, to_file)


def _check_arguments(
    out: Path, table: str, fmt: str, start: date | None, end: date | None, to_file: Path | None
) -> None:
    if not out.is_dir():
        raise ConfigError(f"--output {out}: no such folder; fix: run flexbatch run first")
    if table not in TABLES:
        raise ConfigError(
            f"export: unknown table {table!r}; fix: use one of {', '.join(sorted(TABLES))}"
        )
    if fmt not in FORMATS:
        raise ConfigError(f"export: unknown --format {fmt!r}; fix: use csv, parquet or focus")
    if fmt == "focus" and table != FOCUS_TABLE:
        raise ConfigError(
            f"export: --format focus exports the credit ledger, not {table}; "
            f"fix: flexbatch export {FOCUS_TABLE} --format focus"
        )
    if start is not None and end is not None and start > end:
        raise ConfigError(f"export: --from {start} is after --to {end}; fix: swap them")
    if to_file is not None:
        result_file.check_target(to_file, out, "export")


def _check_account(
    con: duckdb.DuckDBPyConnection, views: list[str], table: str, account: str
) -> None:
    columns = [name for name, *_ in con.execute(f"describe {table}").fetchall()]
    if "account_id" not in columns:
        raise ConfigError(f"export: {table} has no account_id, so --account cannot filter it")
    sources = [t for t in ACCOUNT_TABLES if t in views]
    union = " union all ".join(f"select 1 from {t} where account_id = $account" for t in sources)
    if not con.execute(f"select exists({union})", {"account": account}).fetchone()[0]:
        raise ConfigError(
            f"export: --account {account!r} has no usage, charges or credits in the output; "
            'fix: check the account id (flexbatch sql "select distinct account_id from '
            'balances")'
        )


def _filtered(
    con: duckdb.DuckDBPyConnection,
    table: str,
    account: str | None,
    start: date | None,
    end: date | None,
) -> duckdb.DuckDBPyRelation:
    """The table with its partition column first, filtered, sorted by every column."""
    key = quote_ident(registry_table(COMPUTED_FROM.get(table, table)).filter_column)
    columns = [name for name, *_ in con.execute(f"describe {table}").fetchall()]
    ordered = [key] + [quote_ident(c) for c in columns if quote_ident(c) != key]
    conditions = []
    params: dict[str, object] = {}
    if account is not None:
        conditions.append("account_id = $account")
        params["account"] = account
    if start is not None:
        conditions.append(f"{key} >= $start")
        params["start"] = start
    if end is not None:
        conditions.append(f"{key} <= $end")
        params["end"] = end
    where = f" where {' and '.join(conditions)}" if conditions else ""
    query = f"select {', '.join(ordered)} from {table}{where} order by all"
    return con.sql(query, params=params or None)


def _write_text(text: str, to_file: Path | None) -> None:
    if to_file is None:
        sys.stdout.write(text)
        sys.stdout.flush()
        return
    result_file.write_text(text, to_file)


def _write_parquet(relation: duckdb.DuckDBPyRelation, to_file: Path | None) -> None:
    import pyarrow.parquet as pq

    table = relation.to_arrow_table()
    if to_file is None:
        buffer = io.BytesIO()
        pq.write_table(table, buffer)
        sys.stdout.buffer.write(buffer.getvalue())
        sys.stdout.flush()
        return
    with result_file.atomic_target(to_file) as tmp:
        pq.write_table(table, tmp)
