"""The DuckDB catalog over the outputs: ``OUT/flexbatch.duckdb``.

One view per output table of SPEC §5 over its hive-partitioned Parquet files (the same
views as ``flexbatch sql``, from :func:`flexbatch.serving.views.register_views`), plus the helper
views ``usage_by_product_90d`` and ``usage_by_user_90d`` whose SQL lives in ``sql/``. Any
DuckDB client (the ``duckdb`` shell, DBeaver, Python) can open the file read-only while no
run holds the output lock; the views read the Parquet files at query time, so they always
show the partitions published when the query runs.

Paths in the views are absolute. DuckDB resolves a relative ``read_parquet`` path against
the working directory of the process that queries the view, not against the database file
(``file_search_path`` is a per-session setting that is not stored in the file), so relative
paths would only work for a client started inside OUT. A moved OUT needs a rebuild
(``build_catalog`` runs at the end of every run).

The file is built as ``OUT/.flexbatch.duckdb.tmp`` and moved into place with
``os.replace``: a client never opens a half-built catalog, and one that has the previous
file open keeps reading it.
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
from pathlib import Path

import duckdb

from flexbatch.errors import ConfigError
from flexbatch.ledger.rules import with_rules
from flexbatch.resources import sql_text
from flexbatch.serving.views import register_views
from flexbatch.storage.stores import Store, fsync

logger = logging.getLogger(__name__)

CATALOG_NAME = "flexbatch.duckdb"
HELPER_VIEWS = ("usage_by_product_90d", "usage_by_user_90d", "revenue_monthly")


def view_sql(name: str) -> str:
    """The SELECT of ``sql/serving/<name>.sql`` (a helper view)."""
    return sql_text(name)


def register_helper_views(con: duckdb.DuckDBPyConnection) -> list[str]:
    """Create the 90-day helper views on ``con`` (after ``register_views``, which gives
    every table a view, empty while it has no file); return their names."""
    for name in HELPER_VIEWS:
        con.execute(f"create or replace view {name} as\n{with_rules(view_sql(name))}")
    return list(HELPER_VIEWS)


def refresh_catalog(store: Store) -> Path | None:
    """Rebuild the catalog of a local OUT; a URI OUT has none (its views would read
    remote files, which DuckDB here does not reach)."""
    return build_catalog(store.local_root) if store.local_root is not None else None


def build_catalog(out: Path) -> Path:
    """Write ``OUT/flexbatch.duckdb`` atomically and return its path."""
    out = Path(out).resolve()
    if not out.is_dir():
        raise ConfigError(f"catalog: --output {out} is not a folder; fix: run flexbatch run first")
    final = out / CATALOG_NAME
    tmp = out / f".{CATALOG_NAME}.tmp"
    # Built in a scratch folder, then copied next to the final file: DuckDB derives the
    # write-ahead log's path by string surgery that breaks on a '?' in OUT's path.
    with tempfile.TemporaryDirectory(prefix="flexbatch-catalog-") as scratch:
        built = Path(scratch) / CATALOG_NAME
        con = duckdb.connect(str(built))
        try:
            tables = register_views(con, out)
            helpers = register_helper_views(con)
            con.execute("checkpoint")
        finally:
            con.close()
        shutil.copyfile(built, tmp)
    fsync(tmp)
    # A write-ahead log left next to the old file would be replayed onto the new one.
    Path(f"{final}.wal").unlink(missing_ok=True)
    os.replace(tmp, final)
    fsync(out)
    logger.info("catalog %s: views %s", final, ", ".join([*tables, *helpers]))
    return final
