"""The bare aggregations flexbatch is measured against — per day, account, scope, meter:
distinct users, distinct resources, sum of quantity, count — in DuckDB
(``count(distinct)``), chdb (``uniqExact`` over ``file(..., Parquet)``) and pandas
(``groupby`` ``nunique``/``sum``/``size``), and ``child``, what a bare engine's child
process runs (``python -m flexbatch.bench --child ENGINE``)."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from flexbatch.bench.totals import totals

BARE_ENGINES = ("duckdb", "chdb", "pandas")

DUCKDB_SQL = """
select
    date, account_id, scope_id, meter,
    count(*) as events,
    count(distinct user_id) as unique_users,
    count(distinct resource_id) as unique_resources,
    sum(quantity) as quantity_sum
from read_parquet({files}, hive_partitioning = true)
group by date, account_id, scope_id, meter
"""

CHDB_SQL = """
select
    date, account_id, scope_id, meter,
    count() as events,
    uniqExact(user_id) as unique_users,
    uniqExact(resource_id) as unique_resources,
    sum(quantity) as quantity_sum
from file({files}, Parquet)
group by date, account_id, scope_id, meter
settings use_hive_partitioning = 1
"""


def sql_string(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def arrow_table(relation: Any) -> Any:
    """A DuckDB relation's result as a pyarrow Table (``arrow()`` returns a Table before
    DuckDB 1.4 and a RecordBatchReader since)."""
    result = relation.arrow()
    return result.read_all() if hasattr(result, "read_all") else result


def duckdb_aggregate(usage_glob: str, con: Any = None) -> Any:
    """The bare DuckDB aggregation as a pyarrow Table (one row per day, account, scope,
    meter)."""
    import duckdb

    con = con or duckdb.connect()
    return arrow_table(con.sql(DUCKDB_SQL.format(files=sql_string(usage_glob))))


def chdb_aggregate(usage_glob: str) -> Any:
    import chdb

    return chdb.query(CHDB_SQL.format(files=sql_string(usage_glob)), "ArrowTable")


def pandas_aggregate(usage_glob: str) -> Any:
    import pandas as pd

    usage_dir = usage_glob.split("/date=*", 1)[0]
    columns = ["date", "account_id", "scope_id", "meter", "user_id", "resource_id", "quantity"]
    frame = pd.read_parquet(usage_dir, columns=columns)
    return (
        frame.groupby(["date", "account_id", "scope_id", "meter"], observed=True, sort=False)
        .agg(
            events=("meter", "size"),
            unique_users=("user_id", "nunique"),
            unique_resources=("resource_id", "nunique"),
            quantity_sum=("quantity", "sum"),
        )
        .reset_index()
    )


AGGREGATIONS = {
    "duckdb": duckdb_aggregate,
    "chdb": chdb_aggregate,
    "pandas": pandas_aggregate,
}


def warm_up(engine: str) -> None:
    """Start the engine before the clock (chdb's first query boots its server, ~1 s):
    the process wall time still includes it."""
    if engine == "chdb":
        import chdb

        chdb.query("select 1", "CSV")
    elif engine == "duckdb":
        import duckdb

        duckdb.sql("select 1").fetchall()
    else:
        import pandas  # noqa: F401


def child(engine: str, usage_glob: str, result: Path) -> None:
    """In the child process: run one bare aggregation, time it, write totals as JSON."""
    aggregate = AGGREGATIONS[engine]
    warm_up(engine)
    started = time.perf_counter()
    table = aggregate(usage_glob)
    work_seconds = time.perf_counter() - started
    report = {"work_seconds": work_seconds, "totals": totals(table)}
    result.write_text(json.dumps(report), encoding="utf-8")
