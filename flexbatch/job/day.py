"""One day of the job: IN's day listed once, its events through the engine's charging
stage (``ChargingResult``), the credit ledger after them (``LedgerResult``), and the
publication of every table of the day as one commit. The stages exchange typed results;
each runs in a connection of its own."""

from __future__ import annotations

import json
import logging
import time
import uuid
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import duckdb
import polars as pl

from flexbatch import __version__
from flexbatch.engines import Engine
from flexbatch.ingest.job_config import JobConfig
from flexbatch.ingest.usage_input import DayListing, list_day, warn_unread
from flexbatch.job import restatements
from flexbatch.job.changes import manifest_sha256
from flexbatch.job.writer import DayWriter
from flexbatch.ledger.contract import (
    CreditCounts,
    CreditInputs,
    LedgerResult,
)
from flexbatch.ledger.credit_ledger import ledger
from flexbatch.ledger.rules import FORECAST_HORIZON_DAYS, register_rules
from flexbatch.ledger.state import read_credit_state
from flexbatch.settings import Settings
from flexbatch.storage.publish import DayStage
from flexbatch.storage.stores import Store
from flexbatch.transform.contract import ChargingInputs, ChargingResult, DayCounts
from flexbatch.transform.month_state import month_state
from flexbatch.transform.sql_steps import register_run_context

logger = logging.getLogger(__name__)

MEMORY_LIMIT = Settings().memory_limit  # DuckDB's share of the 4 GiB budget


@dataclass(frozen=True)
class Job:
    """One command's run: where it reads and writes, what it loaded, what computes."""

    inputs: Store
    output: Store
    config: JobConfig
    engine: Engine
    run_id: str
    command: str
    memory_limit: str = MEMORY_LIMIT


@dataclass(frozen=True)
class DayResult:
    day: date
    counts: DayCounts
    credit: CreditCounts
    input_files: int
    charge_rows: int
    credits: Decimal
    seconds: float
    restated: int = 0  # accounts and currencies whose day changed on republication


def new_run_id() -> str:
    return f"{datetime.now(UTC):%Y%m%dT%H%M%SZ}-{uuid.uuid4().hex[:8]}"


def connect(
    spill_dir: Path | None = None, memory_limit: str = MEMORY_LIMIT
) -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB that spills to ``spill_dir`` past ``memory_limit`` instead of
    growing without bound."""
    con = duckdb.connect()
    con.execute("set TimeZone = 'UTC'")
    con.execute("set memory_limit = ?", [memory_limit])
    con.execute("set preserve_insertion_order = false")
    con.execute("set enable_progress_bar = false")  # logs, not a bar, on the job's stderr
    # memory DuckDB frees (a dropped step table, a closed connection) goes back to the
    # system within a second or two, not at the next allocation: Polars' frames of the day
    # are made after it (1,000,000 accounts, measured under load: peak 4.7 -> 4.1 GiB)
    con.execute("set allocator_background_threads = true")
    if spill_dir is not None:
        spill_dir.mkdir(parents=True, exist_ok=True)  # DuckDB creates only the last level
        con.execute("set temp_directory = ?", [str(spill_dir)])
    return con


def register_context(con: duckdb.DuckDBPyConnection, day: date, previous_day: date | None) -> None:
    """``run_context`` and ``credit_rules`` for replays of the steps outside a day's run
    (``audit/trace``)."""
    register_run_context(con, day, previous_day, FORECAST_HORIZON_DAYS)
    register_rules(con)


def _charging(
    job: Job, listing: DayListing, previous_day: date | None, stage: DayStage
) -> ChargingResult:
    """The engine's charging stage, in a connection of its own (closed after: its tables
    are in the result)."""
    inputs = ChargingInputs(
        job.inputs, listing, job.config.plan_versions, job.config.plan_tiers, previous_day
    )
    state = month_state(job.output, listing.day)
    con = connect(job.output.staging / job.run_id / "spill", job.memory_limit)
    try:
        return job.engine.charging(con, inputs, state, stage)
    finally:
        con.close()


def _ledger(
    job: Job, charged: ChargingResult, day: date, previous_day: date | None
) -> LedgerResult:
    """The credit ledger on charging's result and the state OUT holds before ``day``."""
    inputs = CreditInputs(
        charges=charged.charges,
        usage_alerts=charged.usage_alerts,
        grants=job.config.grants,
        transfers=job.config.transfers,
        topup_rules=job.config.topup_rules,
        day=day,
        previous_day=previous_day,
    )
    con = connect(job.output.staging / job.run_id / "spill", job.memory_limit)
    try:
        # no name holds the state here: the ledger lets the previous day's go before
        # it hands today's tables over
        return ledger(con, inputs, read_credit_state(job.output, day, previous_day, con))
    finally:
        con.close()


def _runs_frame(
    job: Job,
    day_started: datetime,
    counts: DayCounts,
    listing: DayListing,
) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "run_id": [job.run_id],
            "command": [job.command],
            "started_at": [day_started],
            "finished_at": [datetime.now(UTC).replace(tzinfo=None)],
            "status": ["succeeded"],
            "rows_read": [counts.rows_read],
            "rows_accepted": [counts.rows_accepted],
            "rows_quarantined": [counts.rows_quarantined],
            "duplicates": [counts.duplicates],
            "input_files": [len(listing.files)],
            "input_manifest": [listing.manifest],  # the files read, as listed
            "unread_files": [json.dumps(list(listing.unread))],  # not read (README)
            "inputs_sha256": [manifest_sha256(listing.manifest)],
            "code_version": [__version__],
            "config_sha256": [job.config.config_sha256],
        },
        schema_overrides={"started_at": pl.Datetime("us"), "finished_at": pl.Datetime("us")},
    )


def process_day(job: Job, day: date, previous_day: date | None) -> DayResult:
    """Compute one day from its raw events and the month state, then publish every table
    of it as one commit; a republished day records what it restated. IN's partition is
    listed once: that listing is what is read, recorded in ``runs`` and reported unread."""
    started_at = datetime.now(UTC).replace(tzinfo=None)
    started = time.perf_counter()
    listing = list_day(job.inputs, day)
    warn_unread(job.inputs, listing)
    stage = DayStage(job.output, day, job.run_id)
    with DayWriter(stage) as writer:
        charged = _charging(job, listing, previous_day, stage)
        # the writer sorts, validates and writes these while the credit ledger runs; the
        # day keeps no reference, so each table's memory goes once it is written
        tables, charged = charged.tables, replace(charged, tables={})
        for table_path in list(tables):
            writer.add(table_path, tables.pop(table_path))
        credit = _ledger(job, charged, day, previous_day)
        credit_counts, balances = credit.counts, credit.balances
        for table_path, frame in credit.tables().items():
            writer.add(table_path, frame)
        del credit  # likewise: at 1,000,000 accounts, gigabytes freed table by table
        previous = restatements.previous_run(job.output, day)
        restated = 0
        if previous is not None:
            sha256 = manifest_sha256(listing.manifest)
            why = restatements.reason(previous, sha256, job.config.config_sha256)
            rows = restatements.restatements(
                job.output, day, balances.collect(), job.run_id, previous, why
            )
            restated = rows.height
            if restated:
                writer.add("restatements", rows)
        del balances
        writer.add("runs", _runs_frame(job, started_at, charged.counts, listing))
        writer.finish()
    stage.publish()
    return DayResult(
        day=day,
        counts=charged.counts,
        credit=credit_counts,
        input_files=charged.input_files,
        charge_rows=charged.charge_rows,
        credits=charged.credits,
        seconds=time.perf_counter() - started,
        restated=restated,
    )
