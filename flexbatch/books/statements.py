"""Statements (SPEC §8): one row per account, credit currency and month, computed from
the month's ``balances`` rows and the corrections booked on it. A pure function: frames
(or the month's ``balances`` files) in, the statements out (``sql/books/statements.sql``)."""

from __future__ import annotations

from datetime import datetime

import polars as pl

from flexbatch.books.frames import (
    BALANCES,
    MOVEMENTS,
    STATEMENTS,
    DayFiles,
    conformed,
    run_sql,
)
from flexbatch.tables import table

SPEC = table("statements")
PUBLISHED = tuple(STATEMENTS)  # the file's columns; the month is its folder
COLUMNS = (*PUBLISHED[:3], "month", *PUBLISHED[3:])  # as readers see them
KEY = ["month", "account_id", "currency"]
CORRECTION_SUMS = {
    "booked_month": pl.Date,
    "closed_month": pl.Date,
    "account_id": pl.String,
    "currency": pl.String,
    **{
        f"{name}_delta": pl.Decimal(38, 6)
        for name in (
            "granted",
            "transferred_in",
            "transferred_out",
            "consumed",
            "expired",
            "voided",
            "overdraft",
            "available",
        )
    },
}


def compute_statements(
    balances: pl.DataFrame | DayFiles | None,
    corrections: pl.DataFrame | None,
    run_id: str,
    prior: pl.DataFrame | None = None,
) -> pl.DataFrame:
    """Open statements of every month ``balances`` or ``prior`` has a day of
    (``balances``: rows of the ``balances`` table with their ``date``, or its files,
    which DuckDB reads as it aggregates; ``corrections``: booked corrections; ``prior``:
    statements, with ``month``, of days of those months that ``balances`` does not
    hold), sorted by month and the table's key."""
    spans = None if prior is None else prior.filter(pl.col("first_day").is_not_null())
    frame = run_sql(
        "statements",
        {
            "month_balances": balances
            if isinstance(balances, DayFiles)
            else conformed(balances, BALANCES),
            "prior_movements": conformed(spans, MOVEMENTS),
            "booked_corrections": conformed(corrections, CORRECTION_SUMS),
            "books_context": pl.DataFrame({"run_id": [run_id]}),
        },
    )
    return typed(frame).sort(KEY)


def typed(frame: pl.DataFrame) -> pl.DataFrame:
    """``frame`` in the published column order and types."""
    return frame.select(COLUMNS).with_columns(pl.col("closed_at").cast(pl.Datetime("us")))


def closed(statements: pl.DataFrame, closed_at: datetime, run_id: str) -> pl.DataFrame:
    """``statements`` as issued by a close at ``closed_at`` (UTC, naive)."""
    return statements.with_columns(
        pl.lit("closed").alias("status"),
        pl.lit(closed_at, pl.Datetime("us")).alias("closed_at"),
        pl.lit(run_id).alias("run_id"),
    ).select(COLUMNS)


def same_figures(a: pl.DataFrame, b: pl.DataFrame) -> bool:
    """Whether two months' statements say the same (the publishing run aside)."""
    columns = [c for c in COLUMNS if c != "run_id"]
    key = ["month", "account_id", "currency"]
    return a.select(columns).sort(key).equals(b.select(columns).sort(key))
