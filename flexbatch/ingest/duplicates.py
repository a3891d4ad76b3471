"""The duplicate check's first pass on DuckDB: the 64-bit hashes of event_id repeated
among the day's input rows (``sql/ingest/repeated_hashes.sql`` defines them, and Spark runs
that file). DuckDB's hash aggregate there keeps one group per row: 2.1 s of the 10 M-event
benchmark day and 19 s of the 100 M-event one, where it spills. Sorting the hashes and
comparing neighbours finds the same set in about a quarter of the time; a test checks both
agree.

The hashes sit outside DuckDB's memory limit (about 20 bytes a row with their sorted
copy), so a day of more than ``HASHES_PER_PASS`` rows is split by hash into passes over
the event_id column, each holding at most that many: a repeated hash repeats within its
own pass."""

from __future__ import annotations

import duckdb
import polars as pl

HASHES_PER_PASS = 50_000_000  # ~1 GB a pass


def repeated_hashes(con: duckdb.DuckDBPyConnection) -> int:
    """Create temp table ``repeated_hashes`` (as the SQL step does) and return its rows."""
    ((rows,),) = con.execute("select count(*) from raw_events").fetchall()
    passes = max(1, -(-int(rows) // HASHES_PER_PASS))
    found = [_repeated(con, part, passes) for part in range(passes)]
    repeated = pl.concat(found).to_frame("id_hash")
    con.register("repeated_hashes_found", repeated)
    try:
        con.execute(
            "create or replace temp table repeated_hashes as "
            "select id_hash from repeated_hashes_found"
        )
    finally:
        con.unregister("repeated_hashes_found")
    return repeated.height


def _repeated(con: duckdb.DuckDBPyConnection, part: int, passes: int) -> pl.Series:
    """The repeated hashes h with h % passes = part."""
    where = f"where hash(event_id) % {passes} = {part}" if passes > 1 else ""
    hashes = con.sql(f"select hash(event_id) as id_hash from raw_events {where}").pl()
    ordered = hashes.get_column("id_hash").sort()
    del hashes
    return ordered.filter(ordered == ordered.shift(1)).unique()
