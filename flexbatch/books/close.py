"""``flexbatch close --month YYYY-MM`` (SPEC §8) and the unattended close
(``FLEXBATCH_CLOSE_AFTER_DAYS``).

A month may close when every day of it from OUT's first processed day on is processed and
fresh (the staleness ``status`` reports) and every earlier month with days is closed;
otherwise exit 2 naming the first month or day in the way. The close books what the
closed months still need and refreshes the month's statements first (:mod:`settle`), then
publishes, as one commit (:mod:`commit`), the issued copies of its ledger and FOCUS rows
and its statements with ``status = closed``. Closing a closed month changes nothing.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

import polars as pl
import pyarrow.parquet as pq

from flexbatch.books import ledger_files as files
from flexbatch.books import months as m
from flexbatch.books.commit import publish_close, recover_closes
from flexbatch.books.issued import issue
from flexbatch.books.settle import open_statements, settle
from flexbatch.books.statements import closed, same_figures
from flexbatch.errors import ConfigError
from flexbatch.job.changes import day_statuses
from flexbatch.schemas import OUTPUT_MODELS
from flexbatch.storage import cascade
from flexbatch.storage.mirror import readable_root
from flexbatch.storage.publish import clear_staging, processed_days, write_parquet
from flexbatch.storage.stores import Store

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class CloseResult:
    month: date
    closed_now: bool  # False: it was closed already
    closed_at: str
    statements: int  # rows


def obstacle(inputs: Store, out: Store, config_sha256: str, month: date) -> str | None:
    """Why ``month`` cannot close now (the first month or day in the way), or None."""
    processed = processed_days(out)
    if not processed:
        return "OUT has no processed day; fix: run flexbatch run or backfill first"
    first = processed[0]
    closed = files.closed_months(out)
    earlier = sorted(
        ({m.month_of(d) for d in processed} | set(files.statement_months(out))) - set(closed)
    )
    for before in (x for x in earlier if x < month):
        return (
            f"month {m.label(before)} is still open and months close in order; "
            f"fix: flexbatch close --month {m.label(before)} first"
        )
    days = [d for d in m.days_of(month) if d >= first]
    if not days:
        return (
            f"OUT has no day of {m.label(month)} (its first processed day is {first}); "
            "fix: close a month OUT has processed"
        )
    states = {s.day: s for s in day_statuses(inputs, out, config_sha256)}
    done = set(processed)
    for day in days:
        if day not in done:
            return (
                f"day {day} of {m.label(month)} is not processed; "
                f"fix: flexbatch run --date {day} (or backfill) first"
            )
        status = states.get(day)
        if status is not None and status.state != "fresh":
            return (
                f"day {day} of {m.label(month)} is stale ({status.reason}); "
                "fix: flexbatch run --since-changed first"
            )
    return None


def close_month(
    inputs: Store, out: Store, config_sha256: str, month: date, run_id: str
) -> CloseResult:
    """Close ``month`` of ``out`` (a local OUT; the caller holds the lock and has run
    recovery). Exit 2 when it may not close."""
    recover_closes(out)
    record = files.closed_months(out).get(month)
    if record is not None:
        return CloseResult(month, False, record["closed_at"], 0)
    why = obstacle(inputs, out, config_sha256, month)
    if why is not None:
        raise ConfigError(f"close --month {m.label(month)}: {why}")
    interrupted = [d for intent in cascade.intents(out) for d in intent.before]
    settle(out, [*interrupted, month], run_id)
    closed_at = datetime.now(UTC).replace(tzinfo=None)
    afresh = open_statements(out, month, run_id)  # every day of the month, read now
    _check_merged(out, month, afresh)
    statements = closed(afresh, closed_at, run_id)
    ledger, focus_rows = issue(readable_root(out), month)
    folder = out.staging / run_id / "close"
    folder.mkdir(parents=True, exist_ok=True)
    pq.write_table(ledger, folder / "ledger.parquet")
    pq.write_table(focus_rows, folder / "focus.parquet")
    published = statements.drop("month")  # the month is the folder
    OUTPUT_MODELS["statements"].validate(published)
    write_parquet(published, folder / "statements.parquet")
    closed_now = publish_close(
        out,
        month,
        run_id,
        closed_at,
        [  # the issued copies first, the statements (what readers call closed) last
            (files.issued_rel(month, "credit_ledger"), folder / "ledger.parquet"),
            (files.issued_rel(month, "focus"), folder / "focus.parquet"),
            (files.statements_rel(month), folder / "statements.parquet"),
        ],
    )
    clear_staging(out, run_id)
    logger.info("closed %s", m.label(month), extra={"month": m.label(month)})
    return CloseResult(month, closed_now, f"{closed_at:%Y-%m-%dT%H:%M:%S.%f}Z", statements.height)


def _check_merged(out: Store, month: date, afresh: pl.DataFrame) -> None:
    """The month's open statements, merged night by night (``settle``), against those of
    all its days: once a month, the merge checked for free. The close issues the
    recomputed ones either way; a difference is logged as the error it is."""
    merged = files.read_statements(out, [month])
    if merged is not None and not same_figures(merged, afresh):
        logger.error(
            "statements of %s as published open differ from their recomputation from every "
            "day; the close issues the recomputed ones; report this as a bug",
            m.label(month),
            extra={"month": m.label(month)},
        )


def due_months(out: Store, after_days: int) -> list[date]:
    """Open months whose last day is at least ``after_days`` days before the latest
    processed day, in order (the unattended close's candidates)."""
    processed = processed_days(out)
    if not processed:
        return []
    latest = processed[-1]
    closed = files.closed_months(out)
    return [
        month
        for month in m.months_of(processed)
        if month not in closed and m.last_day(month) <= latest - timedelta(days=after_days)
    ]


def close_due(
    inputs: Store, out: Store, config_sha256: str, after_days: int, run_id: str
) -> list[CloseResult]:
    """The unattended close: every due month in order, as far as the rules allow (the
    first month that may not close stops it, with a warning: not an error of the run)."""
    results = []
    for month in due_months(out, after_days):
        why = obstacle(inputs, out, config_sha256, month)
        if why is not None:
            logger.warning("not closing %s: %s", m.label(month), why)
            break
        results.append(close_month(inputs, out, config_sha256, month, run_id))
    return results
