"""Corrections (SPEC §8): what a closed month's ledger says now beyond its issued
statement and the corrections already booked for it, booked once in the first open
month. A pure function over frames (``sql/books/corrections.sql``); comparing with
statement + everything booked makes booking idempotent, so a crash between a
restatement and its correction never loses or doubles one: the next command books it."""

from __future__ import annotations

from datetime import date

import polars as pl

from flexbatch.books.frames import CORRECTIONS, RESTATEMENTS, DayFiles, conformed, run_sql
from flexbatch.books.statements import COLUMNS as STATEMENT_COLUMNS
from flexbatch.books.statements import compute_statements
from flexbatch.tables import table

SPEC = table("corrections")
COLUMNS = tuple(CORRECTIONS)
SCHEMA = CORRECTIONS


def empty() -> pl.DataFrame:
    return pl.DataFrame(schema={c: SCHEMA[c] for c in COLUMNS})


def compute_corrections(
    balances: pl.DataFrame | DayFiles | None,
    issued: pl.DataFrame,
    booked: pl.DataFrame | None,
    restatements: pl.DataFrame | None,
    booked_month: date,
    run_id: str,
) -> pl.DataFrame:
    """The corrections to book in ``booked_month`` for the closed months of ``issued``
    (their closed statements): ``balances`` are the rows of those months now, ``booked``
    every correction booked so far, ``restatements`` the restatement rows of those
    months' days (with ``date``), which give the reason. Sorted by the table's order."""
    months = issued.select("month").unique()
    now = compute_statements(balances, None, run_id).join(months, on="month", how="semi")
    booked_frame = conformed(booked, SCHEMA) if booked is not None else empty()
    frame = run_sql(
        "corrections",
        {
            "statements_now": now,
            "issued_statements": issued.select(STATEMENT_COLUMNS),
            "booked_corrections": booked_frame.join(
                months.rename({"month": "closed_month"}), on="closed_month", how="semi"
            ),
            "restatement_reasons": reasons(restatements, cutoffs(issued, booked_frame)),
            "books_context": pl.DataFrame(
                {"run_id": [run_id], "booked_month": [booked_month]},
                schema={"run_id": pl.String, "booked_month": pl.Date},
            ),
        },
    )
    return frame.select(COLUMNS).sort(["closed_month", "account_id", "currency"])


def cutoffs(issued: pl.DataFrame, booked: pl.DataFrame) -> pl.DataFrame:
    """Per closed month, the run that closed it or last booked a correction for it: only
    restatements after it explain a new correction."""
    runs = pl.concat(
        [
            issued.select("month", "run_id"),
            booked.select(pl.col("closed_month").alias("month"), "run_id"),
        ]
    )
    return runs.group_by("month").agg(pl.col("run_id").max()).rename({"month": "closed_month"})


def reasons(restatements: pl.DataFrame | None, cutoff: pl.DataFrame | None = None) -> pl.DataFrame:
    """Per closed month, account and currency, the reason its ledger moved."""
    if cutoff is None:
        cutoff = pl.DataFrame(schema={"closed_month": pl.Date, "run_id": pl.String})
    frame = run_sql(
        "restatement_reasons",
        {"month_restatements": conformed(restatements, RESTATEMENTS), "reason_cutoff": cutoff},
    )
    return frame.select(pl.col("closed_month").cast(pl.Date), "account_id", "currency", "reason")
