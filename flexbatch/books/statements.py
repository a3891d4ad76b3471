"""Statements (SPEC §8): one row per account, credit currency and month, computed from
the month's ``balances`` rows and the corrections booked on it. A pure function: frames
in, the statements out (``sql/books/statements.sql``, run by the commands that publish
them). ``status`` checks the published ones against the same rule in Polars
(``statements_in_polars``), so that it loads no engine; a property test pins the two
equal row for row."""

from __future__ import annotations

from datetime import datetime

import polars as pl

from flexbatch.books.frames import BALANCES, STATEMENTS, Credits, conformed, run_sql
from flexbatch.tables import table

SPEC = table("statements")
PUBLISHED = tuple(STATEMENTS)  # the file's columns; the month is its folder
COLUMNS = (*PUBLISHED[:3], "month", *PUBLISHED[3:])  # as readers see them
KEY = ["month", "account_id", "currency"]
FLOWS = ("granted", "transferred_in", "transferred_out", "consumed", "expired", "voided")
CORRECTED = ("consumed", "overdraft", "available")  # the corrections_* sums
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
    balances: pl.DataFrame | None, corrections: pl.DataFrame | None, run_id: str
) -> pl.DataFrame:
    """Open statements of every month ``balances`` has a day of (``balances``: rows of
    the ``balances`` table with their ``date``; ``corrections``: booked corrections),
    sorted by month and the table's key."""
    frame = run_sql(
        "statements",
        {
            "month_balances": conformed(balances, BALANCES),
            "booked_corrections": conformed(corrections, CORRECTION_SUMS),
            "books_context": pl.DataFrame({"run_id": [run_id]}),
        },
    )
    return typed(frame).sort(KEY)


def statements_in_polars(
    balances: pl.DataFrame | None, corrections: pl.DataFrame | None, run_id: str
) -> pl.DataFrame:
    """``compute_statements`` without DuckDB, the same frame (columns, types, rows and
    order): ``sql/books/statements.sql``'s steps, for readers that load no engine."""
    days = conformed(balances, BALANCES).with_columns(
        pl.col("date").dt.truncate("1mo").alias("month")
    )
    by_day = pl.col("date")
    movements = days.group_by(KEY).agg(
        by_day.min().alias("first_day"),
        by_day.max().alias("last_day"),
        pl.col("opening").sort_by(by_day).first(),
        *(pl.col(f).sum() for f in FLOWS),
        pl.col("available").sort_by(by_day).last().alias("closing"),
        pl.col("overdraft").sum(),
    )
    booked = (
        conformed(corrections, CORRECTION_SUMS)
        .rename({"booked_month": "month"})
        .join(movements.select("month").unique(), on="month", how="semi")
        .group_by(KEY)
        .agg(pl.col(f"{f}_delta").sum().alias(f"corrections_{f}") for f in CORRECTED)
    )
    zero = pl.lit(0).cast(Credits)
    money = [
        "opening",
        *FLOWS,
        "closing",
        "overdraft",
        *(f"corrections_{f}" for f in CORRECTED),
    ]
    frame = (
        movements.join(booked, on=KEY, how="full", coalesce=True)
        .with_columns(pl.col(money).fill_null(zero))
        .with_columns(
            pl.concat_str(
                "account_id",
                pl.lit(":"),
                pl.col("month").dt.strftime("%Y-%m"),
                pl.lit(":"),
                "currency",
            ).alias("statement_id"),
            (pl.col("consumed") + pl.col("overdraft")).alias("charged"),
            pl.lit("open").alias("status"),
            pl.lit(None).alias("closed_at"),
            pl.lit(run_id).alias("run_id"),
        )
    )
    schema = {**STATEMENTS, "month": pl.Date}
    return frame.select(pl.col(c).cast(schema[c]) for c in COLUMNS).sort(KEY)


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
