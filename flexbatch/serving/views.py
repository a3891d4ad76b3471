"""The views readers query: one per published table of the registry (SPEC §5), over its
hive partitions, or a typed empty view while a table has no file yet (``restatements``
before any republication)."""

from __future__ import annotations

from pathlib import Path

import duckdb

from flexbatch.storage.stores import LocalStore
from flexbatch.tables import VIEWS, empty_select


def register_views(con: duckdb.DuckDBPyConnection, out: Path) -> list[str]:
    """One view per published table over its partitions under ``out``; returns the names
    of the tables that have files."""
    store = LocalStore(out)
    names = []
    for spec in VIEWS:
        if store.walk(spec.path, 2):
            body = f"select * from {spec.duckdb_source(out)}"
            names.append(spec.name)
        else:
            body = empty_select(spec.name)
        con.execute(f"create or replace view {spec.name} as {body}")
    return names
