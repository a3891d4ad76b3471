"""One day of the job: its events through the engine, the credit ledger after them, and
the publication of every table of the day as one commit."""

from __future__ import annotations

import json
import logging
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import duckdb
import polars as pl

from flexbatch import __version__
from flexbatch.engines import Engine
from flexbatch.ingest.job_config import JobConfig
from flexbatch.ingest.usage_input import unread_files
from flexbatch.job import restatements
from flexbatch.job.changes import day_manifest, manifest_sha256
from flexbatch.job.writer import DayWriter
from flexbatch.ledger.credit_ledger import (
    CreditCounts,
    compute_credit_day,
    register_credit_inputs,
    register_credit_state,
)
from flexbatch.ledger.rules import FORECAST_HORIZON_DAYS, register_rules
from flexbatch.settings import Settings
from flexbatch.storage.publish import DayStage
from flexbatch.storage.stores import Store
from flexbatch.transform.charging import DayCounts

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
    if spill_dir is not None:
        spill_dir.mkdir(parents=True, exist_ok=True)  # DuckDB creates only the last level
        con.execute("set temp_directory = ?", [str(spill_dir)])
    return con


def register_context(con: duckdb.DuckDBPyConnection, day: date, previous_day: date | None) -> None:
    con.execute(
        "create or replace temp table run_context as select "
        "cast(? as date) as day, cast(? as timestamp) as day_start, "
        "cast(? as timestamp) as day_end, cast(? as date) as month_start, "
        "cast(? as date) as previous_day, cast(? as integer) as forecast_horizon_days",
        [
            day,
            datetime.combine(day, datetime.min.time()),
            datetime.combine(day + timedelta(days=1), datetime.min.time()),
            day.replace(day=1),
            previous_day,
            FORECAST_HORIZON_DAYS,
        ],
    )
    register_rules(con)  # the windows and limits every step reads (credit_rules)


def _compute(
    job: Job, day: date, previous_day: date | None, stage: DayStage, writer: DayWriter
) -> tuple[int, DayCounts, tuple[int, Decimal], dict[str, pl.LazyFrame], CreditCounts]:
    """The day's charging tables, handed to ``writer`` as soon as the engine has them (the
    writer sorts, validates and writes them while the credit ledger runs here), and the
    credit ledger's frames; the input file count, the row counts and the charges' rows and
    credits."""
    con = connect(job.output.staging / job.run_id / "spill", job.memory_limit)
    try:
        register_context(con, day, previous_day)
        con.register("plan_versions", job.config.plan_versions)
        con.register("plan_tiers", job.config.plan_tiers)
        input_files, frames, counts = job.engine.compute_day(
            con, job.inputs, job.output, day, stage
        )
        for table_path, frame in frames.items():
            writer.add(table_path, frame)
        ((charge_rows, credits),) = con.execute(
            "select count(*), sum(credits) from charges"
        ).fetchall()
        register_credit_inputs(con, job.config.grants, job.config.transfers, job.config.topup_rules)
        register_credit_state(con, job.output, day, previous_day)
        credit_frames, credit_counts = compute_credit_day(con)
    finally:
        con.close()
    return (
        input_files,
        counts,
        (int(charge_rows), credits or Decimal(0)),
        credit_frames,
        credit_counts,
    )


def _runs_frame(
    job: Job,
    day_started: datetime,
    counts: DayCounts,
    input_files: int,
    manifest: str | None,
    unread: list[str],
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
            "input_files": [input_files],
            "input_manifest": [manifest],
            "unread_files": [json.dumps(unread)],  # in the partition, not read (README)
            "inputs_sha256": [manifest_sha256(manifest)],
            "code_version": [__version__],
            "config_sha256": [job.config.config_sha256],
        },
        schema_overrides={"started_at": pl.Datetime("us"), "finished_at": pl.Datetime("us")},
    )


def process_day(job: Job, day: date, previous_day: date | None) -> DayResult:
    """Compute one day from its raw events and the month state, then publish every table
    of it as one commit; a republished day records what it restated."""
    started_at = datetime.now(UTC).replace(tzinfo=None)
    started = time.perf_counter()
    manifest = day_manifest(job.inputs, day)
    stage = DayStage(job.output, day, job.run_id)
    with DayWriter(stage) as writer:
        input_files, counts, (charge_rows, credits), credit_frames, credit_counts = _compute(
            job, day, previous_day, stage, writer
        )
        for table_path, frame in credit_frames.items():
            writer.add(table_path, frame)
        previous = restatements.previous_run(job.output, day)
        restated = 0
        if previous is not None:
            why = restatements.reason(previous, manifest_sha256(manifest), job.config.config_sha256)
            rows = restatements.restatements(
                job.output, day, credit_frames["balances"].collect(), job.run_id, previous, why
            )
            restated = rows.height
            if restated:
                writer.add("restatements", rows)
        unread = unread_files(job.inputs, day)
        writer.add("runs", _runs_frame(job, started_at, counts, input_files, manifest, unread))
        writer.finish()
    stage.publish()
    return DayResult(
        day=day,
        counts=counts,
        credit=credit_counts,
        input_files=input_files,
        charge_rows=charge_rows,
        credits=credits,
        seconds=time.perf_counter() - started,
        restated=restated,
    )
