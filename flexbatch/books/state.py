"""What ``status`` says about the books: each month open or closed, the corrections a
closed month still needs and open statements that no longer follow the ledger (both
after an interrupted command; the next ``run``, ``backfill`` or ``close`` settles them).
A read: nothing is written."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from flexbatch.books import ledger_files as files
from flexbatch.books import months as m
from flexbatch.books.settle import open_statements, pending_corrections
from flexbatch.books.statements import same_figures
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
    processed = set(m.months_of(processed_days(out)))
    booked = files.read_corrections(out)
    pending = pending_corrections(out, closed, "status") if closed else None
    states = []
    for month in sorted(processed | set(closed)):
        record = closed.get(month)
        on_it = 0 if booked is None else int((booked["booked_month"] == month).sum())
        waiting = 0 if pending is None else int((pending["closed_month"] == month).sum())
        if record is not None:
            published = files.read_statements(out, [month])
            current = published is not None and bool((published["status"] == "closed").all())
        else:
            published = files.read_statements(out, [month])
            current = published is not None and same_figures(
                published, open_statements(out, month, "status")
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
