"""What ``status`` says about the books: each month open or closed, the corrections a
closed month still needs and open statements that no longer follow the ledger (both
after an interrupted command; the next ``run``, ``backfill`` or ``close`` settles them).
A read: nothing is written, and no engine nor validation library is loaded (the ledger
now is computed in Polars, by rules that tests/test_books_in_polars.py pins to the SQL
the writing commands run), so that ``status`` answers at once on a year of days."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import polars as pl

from flexbatch.books import ledger_files as files
from flexbatch.books import months as m
from flexbatch.books.frames import Credits
from flexbatch.books.statements import FLOWS, same_figures, statements_in_polars
from flexbatch.storage.publish import processed_days
from flexbatch.storage.stores import Store


@dataclass(frozen=True)
class MonthState:
    month: date
    status: str  # open | closed
    closed_at: str | None
    corrections_booked: int  # booked on this month's statement
    corrections_pending: int  # this closed month's ledger moved, not yet booked
    statements_current: bool  # the published statements say what the ledger says now


MOVED = (*FLOWS, "overdraft")  # what a correction carries (corrections.sql's deltas)
CLOSED_KEY = ["closed_month", "account_id", "currency"]


def pending_counts(
    now: pl.DataFrame, issued: pl.DataFrame, booked: pl.DataFrame | None
) -> dict[date, int]:
    """Per closed month of ``issued`` (its closed statements), how many corrections it
    needs now: the rows ``settle.pending_corrections`` gives, counted without an engine.
    An account and currency needs one when a flow of ``now`` (the month's statements
    recomputed from balances, no corrections) differs from the issued statement's plus
    every correction ``booked`` for it: ``sql/books/corrections.sql``'s comparison, which a
    property test pins."""
    months = issued.select(pl.col("month").alias("closed_month")).unique()

    def flows(frame: pl.DataFrame, sign: int) -> pl.DataFrame:
        return frame.select(
            *CLOSED_KEY, *((pl.col(f).cast(Credits) * sign).cast(Credits) for f in MOVED)
        ).join(months, on="closed_month", how="semi")

    month = {"month": "closed_month"}
    sides = [flows(now.rename(month), 1), flows(issued.rename(month), -1)]
    if booked is not None:
        sides.append(flows(booked.rename({f"{f}_delta": f for f in MOVED}), -1))
    moved = (
        pl.concat(sides)
        .group_by(CLOSED_KEY)
        .agg(pl.col(MOVED).sum())
        .filter(pl.any_horizontal(pl.col(f) != 0 for f in MOVED))
    )
    return dict(moved.group_by("closed_month").len().iter_rows())


def _of_months(balances: pl.DataFrame | None, months: list[date]) -> pl.DataFrame | None:
    if balances is None:
        return None
    return balances.filter(pl.col("date").dt.truncate("1mo").is_in(months))


def month_states(out: Store) -> list[MonthState]:
    closed = files.closed_months(out)
    days = processed_days(out)
    booked = files.read_corrections(out)
    months = sorted(set(m.months_of(days)) | set(closed))
    # one read of every month's balances; the ledger now, in Polars (no engine to load)
    balances = files.read_balances(out, months, days)
    pending: dict[date, int] = {}
    if closed:
        now = statements_in_polars(_of_months(balances, list(closed)), None, "status")
        pending = pending_counts(now, files.read_issued(out, closed), booked)
    open_months = [month for month in months if month not in closed]
    booked_open = (
        booked.filter(pl.col("booked_month").is_in(open_months)) if booked is not None else None
    )
    now = statements_in_polars(_of_months(balances, open_months), booked_open, "status")
    states = []
    for month in months:
        record = closed.get(month)
        on_it = 0 if booked is None else int((booked["booked_month"] == month).sum())
        waiting = pending.get(month, 0)
        published = files.read_statements(out, [month])
        if record is not None:
            current = published is not None and bool((published["status"] == "closed").all())
        else:
            current = published is not None and same_figures(
                published, now.filter(pl.col("month") == month)
            )
        states.append(
            MonthState(
                month,
                "closed" if record is not None else "open",
                record["closed_at"] if record is not None else None,
                on_it,
                waiting,
                current,
            )
        )
    return states


def status_lines(out: Store) -> list[str]:
    """The books' part of ``status``'s text."""
    lines = []
    for s in month_states(out):
        if s.status == "closed":
            text = f"{m.label(s.month)}  closed at {s.closed_at[:19]}Z"
            if not s.statements_current:
                text += "  (close interrupted: the next run or close finishes it)"
        else:
            text = f"{m.label(s.month)}  open"
            if not s.statements_current:
                text += "  (statements out of date: the next run recomputes them)"
        if s.corrections_booked:
            text += f"  ({s.corrections_booked} corrections booked on it)"
        if s.corrections_pending:
            text += (
                f"  ({s.corrections_pending} corrections pending: restated after the close, "
                "the next run books them)"
            )
        lines.append(text)
    return ["months:", *(f"  {line}" for line in lines)] if lines else []
