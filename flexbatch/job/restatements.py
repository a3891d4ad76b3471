"""Restatements (SPEC §7): what a republished day changed, per account and currency.

When a run republishes a processed day, the day's balances before (as published) and
after (as just computed) are compared on consumption, overdraft and available balance;
each account and currency where any of them changed is one row, with the reason: the
day's own usage files changed (``inputs_changed``), the configuration changed
(``config_changed``), or only an earlier day did (``cascade``). A day computed for the
first time, or recomputed to the same values, writes none.
"""

from __future__ import annotations

from datetime import date

import polars as pl

from flexbatch.storage.partitions import day_paths, read_partitions, table_files
from flexbatch.storage.stores import Store

MEASURES = ("consumed", "overdraft", "available")
KEY = ("account_id", "currency")


def previous_run(store: Store, day: date) -> dict | None:
    """The latest ``runs`` row of a published day, or None."""
    files = day_paths(store, "runs", [day])
    if not files:
        return None
    runs = pl.concat([pl.read_parquet(f, glob=False) for f in files], how="diagonal_relaxed")
    return runs.sort("finished_at").row(-1, named=True)


def reason(previous: dict, inputs_sha256: str, config_sha256: str) -> str:
    if previous.get("inputs_sha256") != inputs_sha256:
        return "inputs_changed"
    if previous.get("config_sha256") != config_sha256:
        return "config_changed"
    return "cascade"


def restatements(
    store: Store, day: date, balances: pl.DataFrame, run_id: str, previous: dict, why: str
) -> pl.DataFrame:
    """The day's restatement rows: published ``balances`` of ``day`` against the new ones."""
    columns = [*KEY, *MEASURES]
    files = day_paths(store, "balances", [day])
    before = (
        pl.concat([pl.read_parquet(f, columns=columns, glob=False) for f in files])
        if files
        else balances.select(columns).clear()
    )
    joined = before.join(balances.select(columns), on=KEY, how="full", coalesce=True)
    changed = pl.any_horizontal(pl.col(m).ne_missing(pl.col(f"{m}_right")) for m in MEASURES)
    return (
        joined.filter(changed)
        .select(
            pl.lit(run_id).alias("run_id"),
            pl.lit(previous["run_id"], pl.String).alias("previous_run_id"),
            *KEY,
            pl.lit(why).alias("reason"),
            *(
                expr
                for m in MEASURES
                for expr in (
                    pl.col(m).alias(f"{m}_before"),
                    pl.col(f"{m}_right").alias(f"{m}_after"),
                )
            ),
        )
        .sort(KEY)
    )


def counts(store: Store) -> dict[date, int]:
    """Restatement rows recorded per restated day (one scan of every day's files)."""
    rows = read_partitions(store, table_files(store, "restatements"), {"run_id": pl.String})
    return dict(rows.group_by("date").len().iter_rows())
