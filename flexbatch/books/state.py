"""What ``status`` says about the books: each month open or closed, the corrections a
closed month still needs and open statements that no longer follow the ledger (both
after an interrupted command; the next ``run``, ``backfill`` or ``close`` settles them).
A read: nothing is written. An open month whose basis record (:mod:`basis`) vouches for
its statements is current without a balance read; the others' statements and the
corrections are those the writing commands compute (``sql/books``, on an in-memory
DuckDB), from one read of those months' balances. No validation library is loaded, so
that ``status`` answers at once on a year of days."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import polars as pl

from flexbatch.books import basis
from flexbatch.books import ledger_files as files
from flexbatch.books import months as m
from flexbatch.books.settle import pending_corrections
from flexbatch.books.statements import compute_statements, same_figures
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


def month_states(out: Store) -> list[MonthState]:
    closed = files.closed_months(out)
    days = processed_days(out)
    booked = files.read_corrections(out)
    months = sorted(set(m.months_of(days)) | set(closed))
    pending: dict[date, int] = {}
    if closed:
        counted = pending_corrections(out, closed, "status").group_by("closed_month").len()
        pending = dict(counted.iter_rows())
    open_months = [month for month in months if month not in closed]
    inputs = basis.listed(out, days, booked) if open_months else None
    vouched = {
        month
        for month in open_months
        if inputs is not None and basis.is_current(out, month, inputs.of(month))
    }
    recheck = [month for month in open_months if month not in vouched]
    now = None
    if recheck:  # their statements as the ledger says now, from their balances files
        booked_open = (
            booked.filter(pl.col("booked_month").is_in(recheck)) if booked is not None else None
        )
        balances = files.balance_files(out, recheck, days)
        now = compute_statements(balances, booked_open, "status")
    states = []
    for month in months:
        record = closed.get(month)
        on_it = 0 if booked is None else int((booked["booked_month"] == month).sum())
        waiting = pending.get(month, 0)
        if month in vouched:
            current = True
        elif record is not None:
            published = files.read_statements(out, [month])
            current = published is not None and bool((published["status"] == "closed").all())
        else:
            published = files.read_statements(out, [month])
            current = (
                published is not None
                and now is not None
                and same_figures(published, now.filter(pl.col("month") == month))
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
