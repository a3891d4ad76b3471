"""What every writing command does after its days (SPEC §8): book the corrections the
closed months need, then republish the open months' statements.

Both steps are idempotent and each writes whole files by one rename, so a command killed
anywhere in them leaves files that the next command recomputes: corrections compare the
ledger now with statement + everything already booked (a correction is never lost or
booked twice), and statements are recomputed from ``balances`` (the days since those of
the published statements, when their record vouches for them) and the corrections. The
months looked at are those of the days the command published and of the days an
interrupted command set out to compute (its cascade record is deleted only after this
step), so a kill between a restatement and its correction is booked by the next command.
Each open month's statements file, once in place, is followed by its basis record
(:mod:`basis`: what it was computed from), by which ``status`` knows it is current and
the next night knows which days it holds.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date

import polars as pl

from flexbatch.books import basis
from flexbatch.books import ledger_files as files
from flexbatch.books import months as m
from flexbatch.books.corrections import compute_corrections, empty
from flexbatch.books.statements import compute_statements
from flexbatch.storage.publish import processed_days
from flexbatch.storage.stores import Store

logger = logging.getLogger(__name__)


@dataclass
class Settled:
    corrections: pl.DataFrame | None = None  # booked by this call
    statements: list[date] = field(default_factory=list)  # months republished


def pending_corrections(store: Store, closed_to_check: Iterable[date], run_id: str) -> pl.DataFrame:
    """The corrections the closed months ``closed_to_check`` need now (none booked yet)."""
    closed = files.closed_months(store)
    check = sorted(set(closed_to_check) & set(closed))
    if not check:
        return empty()
    return compute_corrections(
        files.balance_files(store, check),
        files.read_issued(store, check),
        files.read_corrections(store),
        files.read_restatements(store, check),
        m.next_month(max(closed)),
        run_id,
    )


def open_statements(
    store: Store, month: date, run_id: str, inputs: dict | None = None
) -> pl.DataFrame:
    """The statements of ``month`` as the ledger and the corrections booked on it say now.
    ``inputs``: the month's days as OUT lists them now (``basis.Inputs.of``), the days
    read (and those its record will name); when the published statements' record vouches
    for some of them, only the other days' ``balances`` are read, merged into those
    statements (a night reads its own day, not the month's). None: every processed day
    of the month, listed now."""
    corrections = files.read_corrections(store)
    booked = None if corrections is None else corrections.filter(pl.col("booked_month") == month)
    if inputs is None:
        return compute_statements(files.balance_files(store, [month]), booked, run_id)
    so_far = basis.vouched(store, month, inputs)
    covered = frozenset() if so_far is None else so_far.days
    # exactly the days listed (which the record will name), never a second listing
    days = [d for d in map(date.fromisoformat, inputs["days"]) if d not in covered]
    balances = files.balance_files(store, [month], days) if days else None
    prior = None if so_far is None else so_far.statements
    return compute_statements(balances, booked, run_id, prior=prior)


def settle(store: Store, touched_days: Iterable[date], run_id: str) -> Settled:
    """Book the corrections of the closed months among ``touched_days``' months, then
    republish the statements of their open months (and of the month corrections are
    booked in, and of any open month that has no statements or no basis record yet)."""
    touched = set(m.months_of(touched_days))
    closed = files.closed_months(store)
    result = Settled()
    if closed:
        booked_month = m.next_month(max(closed))
        new = pending_corrections(store, touched, run_id)
        if new.height:
            files.write_corrections(store, booked_month, new, run_id)
            logger.info(
                "booked %d corrections in %s",
                new.height,
                m.label(booked_month),
                extra={"corrections": new.height, "booked_month": m.label(booked_month)},
            )
            result.corrections = new
        touched.add(booked_month)
    processed = processed_days(store)
    open_months = set(m.months_of(processed)) - set(closed)
    missing = open_months - set(files.statement_months(store))
    # what the statements are computed from, listed before anything is read
    inputs = basis.listed(store, processed)
    # an open month that could have a basis record and has none of this version and
    # method (an OUT from before them) is republished once: ``status`` then answers it
    # without a balance read, and the next night merges into it
    unrecorded = {
        month
        for month in open_months
        if inputs.of(month) is not None and not basis.has_record(store, month)
    }
    republish = sorted((touched & open_months) | missing | unrecorded)
    if not republish:
        return result
    basis.clear_unfinished(store)
    for month in republish:
        month_inputs = inputs.of(month)
        frame = open_statements(store, month, run_id, month_inputs)
        digest = files.write_statements(store, month, frame)
        basis.record(store, month, month_inputs, digest)  # only once the file is in place
        result.statements.append(month)
    return result
