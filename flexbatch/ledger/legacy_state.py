"""The credit state of an OUT written before SPEC §10 (grant lifecycle): its grant slices
lack ``origin_id`` and ``rolled_over``, its balances ``voided_total`` and ``entitled``.
So that such an OUT is continued, not refused, the state is read with these defaults
where its files lack a column (a slice's grant is its id up to the first '@': transfers
add '@TRANSFER'; it has never rolled over; nothing was ever voided; an account without
``entitled`` is recomputed, not carried forward)."""

from __future__ import annotations

from pathlib import Path

import duckdb

from flexbatch.storage.literal import duckdb_files

LEGACY_DEFAULTS = {
    "origin_id": "split_part(grant_id, '@', 1)",
    "rolled_over": "false",
    "voided_total": "cast(0 as decimal(38, 6))",
    # nothing to carry forward: ledger_accounts recomputes such an account
    "entitled": "cast(null as boolean)",
}


def state_columns(con: duckdb.DuckDBPyConnection, files: list[Path], columns: str) -> str:
    """``columns`` (a SELECT list of plain names) with each of LEGACY_DEFAULTS that
    ``files`` lack replaced by its default (``columns`` unchanged when none is missing)."""
    names = [c.strip() for c in columns.split(",")]
    missing = [n for n in names if n in LEGACY_DEFAULTS]
    if not files or not missing:
        return columns
    cursor = con.execute(f"select * from read_parquet({duckdb_files(files)}) limit 0")
    present = {d[0] for d in cursor.description}
    return ", ".join(
        n if n in present or n not in LEGACY_DEFAULTS else f"{LEGACY_DEFAULTS[n]} as {n}"
        for n in names
    )
