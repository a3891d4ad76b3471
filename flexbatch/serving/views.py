"""The views readers query: one per published table of the registry (SPEC §5), over its
hive partitions, or a typed empty view while a table has no file yet (``restatements``
before any republication); and the views computed on read (``forecast``,
``forecast_daily``: the registry's ``COMPUTED_VIEWS``)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import duckdb

from flexbatch.ledger.rules import rules_cte, with_rules
from flexbatch.resources import sql_text
from flexbatch.storage.stores import LocalStore
from flexbatch.tables import (
    COMPUTED_READS,
    COMPUTED_VIEWS,
    VIEWS,
    ComputedView,
    empty_select,
    files_relation,
    files_select,
    table,
)


def register_views(con: duckdb.DuckDBPyConnection, out: Path) -> list[str]:
    """One view per published table over its partitions under ``out``; returns the names
    of the tables that have files."""
    store = LocalStore(out)
    names = []
    rows: dict[str, str | None] = {}
    for name in dict.fromkeys([*(spec.name for spec in VIEWS), *COMPUTED_READS]):
        spec = table(name)
        has_files = bool(store.walk(spec.path, 2))
        if has_files and spec.view:
            names.append(spec.name)
        rows[spec.name] = f"(select * from {spec.duckdb_source(out)})" if has_files else None
        if spec.view and not spec.computed:
            body = f"select * from {spec.duckdb_source(out)}" if has_files else None
            con.execute(f"create or replace view {spec.name} as {body or empty_select(name)}")
    register_computed_views(con, rows)
    return names


def register_computed_views(con: duckdb.DuckDBPyConnection, rows: Mapping[str, str | None]) -> None:
    """The views computed on read, over ``rows``: per table a computed view reads, a
    relation over its files (a name or a parenthesised SELECT), None when it has none."""
    for name in COMPUTED_READS:
        con.execute(
            f"create or replace view {files_relation(name)} as {files_select(name, rows[name])}"
        )
    for view in COMPUTED_VIEWS:
        con.execute(f"create or replace view {view.name} as\n{computed_select(view)}")


def computed_select(view: ComputedView) -> str:
    """The SELECT of a computed view: its steps as CTEs, then its own SQL over them."""
    body = sql_text(view.sql)
    if not view.steps:
        return with_rules(body)
    # not materialised: a CTE read twice would be computed whole once, and a reader's
    # filter (an as_of, an account) would not reach the files under it
    ctes = ",\n".join(
        f"{name} as not materialized (\n{sql_text(step)}\n)" for name, step in view.steps
    )
    return f"with\n{rules_cte()},\n{ctes}\nselect * from (\n{body}\n) as {view.name}"
