"""The nightly job and the backfill: which days to compute, in which order, and the
publication of each day (SPEC §2)."""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import shutil
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING

import duckdb
import polars as pl
import pyarrow as pa
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from flexbatch import __version__
from flexbatch.config import Paths
from flexbatch.errors import ConfigError, FlexbatchError
from flexbatch.ingest.credit_inputs import inputs_sha256, load_grants, load_transfers
from flexbatch.ingest.rate_plans import load_rate_plans, plan_tables
from flexbatch.ingest.usage_input import day_file_infos, register_raw_events
from flexbatch.job.changes import DayStatus, day_manifest, day_statuses, manifest_sha256
from flexbatch.ledger.credit_ledger import (
    FORECAST_HORIZON_DAYS,
    CreditCounts,
    compute_credit_day,
    register_credit_inputs,
    register_credit_state,
)
from flexbatch.schemas import OUTPUT_MODELS
from flexbatch.serving.catalog import build_catalog
from flexbatch.storage import remote_publish
from flexbatch.storage.lock import output_lock
from flexbatch.storage.publish import STAGING, DayStage, processed_days, recover
from flexbatch.storage.remote_publish import RemoteDayStage, remote_lock
from flexbatch.storage.stores import (
    HadoopStore,
    LocalStore,
    Store,
    is_uri,
    store_of,
)
from flexbatch.transform.charging import DayCounts, compute_day
from flexbatch.transform.month_state import register_history

if TYPE_CHECKING:
    from flexbatch.engines.spark_engine import SparkEngine

logger = logging.getLogger(__name__)

RATE_PLANS = "rate_plans.toml"


@dataclass(frozen=True)
class DayResult:
    day: date
    counts: DayCounts
    credit: CreditCounts
    input_files: int
    charge_rows: int
    credits: Decimal
    seconds: float


@dataclass(frozen=True)
class JobConfig:
    """Everything a day needs besides its own events, loaded once per command."""

    plan_versions: pa.Table
    plan_tiers: pa.Table
    grants: pl.DataFrame
    transfers: pl.DataFrame
    config_sha256: str

    @classmethod
    def load(cls, input_root: Path | Store) -> JobConfig:
        """From a local IN, or from local copies of a remote IN's configuration files
        (errors then name the remote file)."""
        if isinstance(input_root, LocalStore):
            return cls.load(input_root.root)
        if isinstance(input_root, HadoopStore):
            with tempfile.TemporaryDirectory(prefix="flexbatch-in-") as folder:
                local = _config_copies(input_root, Path(folder))
                try:
                    return cls.load(local)
                except FlexbatchError as exc:
                    message = str(exc).replace(str(local), input_root.display())
                    raise type(exc)(message) from None
        path = input_root / RATE_PLANS
        versions, tiers = plan_tables(load_rate_plans(path))
        digest = hashlib.sha256(path.read_bytes())
        for name, file_digest in sorted(inputs_sha256(input_root).items()):
            digest.update(f"{name}:{file_digest}".encode())
        return cls(
            versions,
            tiers,
            load_grants(input_root),
            load_transfers(input_root),
            digest.hexdigest(),
        )


CONFIG_FILES = (
    RATE_PLANS,
    *(f"{s}.{e}" for s in ("grants", "transfers") for e in ("csv", "parquet")),
)


def _config_copies(store: HadoopStore, folder: Path) -> Path:
    """``folder``, with copies of a remote IN's configuration files."""
    for name in CONFIG_FILES:
        if store.exists(name):
            shutil.copyfile(store.local(name), folder / name)
    return folder


def new_run_id() -> str:
    return f"{datetime.now(UTC):%Y%m%dT%H%M%SZ}-{uuid.uuid4().hex[:8]}"


MEMORY_LIMIT = "3GB"  # DuckDB's share; the rest of the 4 GiB budget is Python and Polars


def connect(spill_dir: Path | None = None) -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB that spills to ``spill_dir`` past its memory limit
    (``FLEXBATCH_MEMORY_LIMIT``, default 3GB) instead of growing without bound."""
    con = duckdb.connect()
    con.execute("set TimeZone = 'UTC'")
    con.execute("set memory_limit = ?", [os.environ.get("FLEXBATCH_MEMORY_LIMIT", MEMORY_LIMIT)])
    con.execute("set preserve_insertion_order = false")
    con.execute("set enable_progress_bar = false")  # logs, not a bar, on the job's stderr
    if spill_dir is not None:
        spill_dir.mkdir(parents=True, exist_ok=True)  # DuckDB creates only the last level
        con.execute("set temp_directory = ?", [str(spill_dir)])
    return con


def _register_context(con: duckdb.DuckDBPyConnection, day: date, previous_day: date | None) -> None:
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


def previous_processed_day(processed: Iterable[date], day: date) -> date | None:
    """The latest processed day before ``day``: whose credit state ``day`` continues."""
    return max((d for d in processed if d < day), default=None)


@dataclass(frozen=True)
class Stores:
    """IN and OUT of one command, and the local folder for its staging and spill files."""

    input: Store
    output: Store
    staging: Path

    def stage(self, run_id: str, day: date) -> DayStage | RemoteDayStage:
        if isinstance(self.output, HadoopStore):
            return RemoteDayStage(self.output, self.staging / run_id / day.isoformat(), run_id, day)
        return DayStage(self.output.root, run_id, day)  # type: ignore[attr-defined]


def process_day(
    stores: Stores,
    day: date,
    config: JobConfig,
    run_id: str,
    command: str,
    previous_day: date | None,
    engine: SparkEngine | None = None,
) -> DayResult:
    """Compute one day from its raw events and the month state, then publish it atomically;
    the event-sized steps run in DuckDB, or on Spark when ``engine`` is given."""
    started_at = datetime.now(UTC).replace(tzinfo=None)
    started = time.perf_counter()
    manifest = day_manifest(stores.input, day)
    stage = stores.stage(run_id, day)
    con = connect(stores.staging / run_id / "spill")
    try:
        _register_context(con, day, previous_day)
        con.register("plan_versions", config.plan_versions)
        con.register("plan_tiers", config.plan_tiers)
        if engine is None:
            register_history(con, stores.output, day)
            input_files = register_raw_events(con, stores.input.root, day)  # type: ignore[attr-defined]
            frames, counts = compute_day(con)
        else:  # the event-sized steps on Spark; their results land in con
            register_history(con, stores.output, day, views=("charges_history",))  # ledger's
            direct = stage if isinstance(stage, RemoteDayStage) else None
            input_files, frames, counts = engine.compute_day(
                con, stores.input, stores.output, day, direct
            )
        register_credit_inputs(con, config.grants, config.transfers)
        register_credit_state(con, stores.output, day, previous_day)
        credit_frames, credit_counts = compute_credit_day(con)
        frames.update(credit_frames)
    finally:
        con.close()
    frames["runs"] = pl.DataFrame(
        {
            "run_id": [run_id],
            "command": [command],
            "started_at": [started_at],
            "finished_at": [datetime.now(UTC).replace(tzinfo=None)],
            "status": ["succeeded"],
            "rows_read": [counts.rows_read],
            "rows_accepted": [counts.rows_accepted],
            "rows_quarantined": [counts.rows_quarantined],
            "duplicates": [counts.duplicates],
            "input_files": [input_files],
            "input_manifest": [manifest],
            "inputs_sha256": [manifest_sha256(manifest)],
            "code_version": [__version__],
            "config_sha256": [config.config_sha256],
        },
        schema_overrides={"started_at": pl.Datetime("us"), "finished_at": pl.Datetime("us")},
    )
    for table, frame in frames.items():
        OUTPUT_MODELS[table].validate(frame)
        stage.add(
            table,
            frame,
            f"run-{run_id}.parquet" if table == "runs" else "part-0.parquet",
            key="as_of" if table == "forecast" else "date",
        )
    stage.publish()
    charges = frames["charges"]
    return DayResult(
        day=day,
        counts=counts,
        credit=credit_counts,
        input_files=input_files,
        charge_rows=charges.height,
        credits=charges["credits"].sum() if charges.height else Decimal(0),
        seconds=time.perf_counter() - started,
    )


def _with_progress(days: Sequence[date], label: str) -> Iterator[date]:
    if not sys.stderr.isatty():
        yield from days
        return
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
    )
    with Progress(*columns, transient=True) as progress:
        task = progress.add_task(label, total=len(days))
        for day in days:
            progress.update(task, description=f"{label} {day}")
            yield day
            progress.advance(task)


DayChooser = Callable[[Stores, JobConfig], Sequence[date]]


ENGINES = ("duckdb", "spark")


def open_stores(paths: Paths, engine: str) -> tuple[Stores, SparkEngine | None]:
    """The stores of IN and OUT; a URI (hdfs://, s3a://, file://…) is reached through
    Spark's JVM, so it needs ``--engine spark`` (whose session is then started here)."""
    spark = None
    if is_uri(paths.input) or is_uri(paths.output):
        if engine != "spark":
            raise ConfigError(
                f"--input/--output {paths.input if is_uri(paths.input) else paths.output}: "
                "a URI is read and written through Spark; fix: add --engine spark, or "
                "give local folders"
            )
        spark = _engine(engine)
    session = spark.spark if spark is not None else None
    output = store_of(paths.output, session)
    if isinstance(output, HadoopStore):
        work = Path(os.environ.get("FLEXBATCH_WORK_DIR", tempfile.gettempdir()))
        staging = work / f"flexbatch-{hashlib.sha256(output.uri.encode()).hexdigest()[:12]}"
    else:
        staging = Path(paths.output) / STAGING
    stores = Stores(store_of(paths.input, session), output, staging)
    for name, store in (("in", stores.input), ("out", stores.output)):
        if isinstance(store, HadoopStore):  # copies of its small files, kept between runs
            store.cache = staging / f"cache-{name}"
    return stores, spark


@contextlib.contextmanager
def _locked(stores: Stores, command: str) -> Iterator[None]:
    """The output lock (a lease on a remote OUT), then recovery of interrupted writes."""
    if isinstance(stores.output, HadoopStore):
        with remote_lock(stores.output, command):
            remote_publish.recover(stores.output)
            yield
    else:
        out = stores.output.root  # type: ignore[attr-defined]
        with output_lock(out, command):
            recover(out)
            yield


def process_days(
    paths: Paths, choose_days: DayChooser, command: str, engine: str = "duckdb"
) -> list[DayResult]:
    """Process the days ``choose_days(stores)`` lists, in order, under the output lock: the
    list is made after the lock is taken and interrupted publications are finished, so a
    day another run published meanwhile is not missed. Each day's state comes from the
    days before it. ``engine`` runs the event-sized steps (``spark``: see spark_engine)."""
    stores, spark = open_stores(paths, engine)
    config = JobConfig.load(stores.input)
    with _locked(stores, command):
        days = list(choose_days(stores, config))
        for day in days:  # fail before writing anything when a day has no partition
            day_file_infos(stores.input, day)
        if spark is None and days:  # no JVM for a night with nothing to do
            spark = _engine(engine)
        results = _process_locked(stores, days, command, config, spark)
        if isinstance(stores.output, LocalStore):  # the DuckDB catalog reads local files
            build_catalog(stores.output.root)
    return results


def _engine(name: str) -> SparkEngine | None:
    """The engine of the event-sized steps: None is DuckDB (the connection of each day)."""
    if name not in ENGINES:
        raise ConfigError(f"engine {name!r} is unknown; fix: use one of {', '.join(ENGINES)}")
    if name == "duckdb":
        return None
    try:  # pyspark and sqlglot only when asked for: the base install has neither
        from flexbatch.engines.spark_engine import SparkEngine
    except ImportError as exc:
        raise ConfigError(
            f"--engine spark needs {exc.name or 'pyspark'}, which is not installed; "
            "fix: pip install 'flexbatch[spark]'"
        ) from exc
    return SparkEngine()


def _process_locked(
    stores: Stores,
    days: Sequence[date],
    command: str,
    config: JobConfig,
    engine: SparkEngine | None = None,
) -> list[DayResult]:
    run_id = new_run_id()
    results = []
    processed = set(processed_days(stores.output))  # listed once, then kept up to date
    for day in _with_progress(days, command):
        previous = previous_processed_day(processed, day)
        result = process_day(stores, day, config, run_id, command, previous, engine)
        processed.add(day)
        c = result.counts
        logger.info(
            "%s %s: read %d, accepted %d, quarantined %d, duplicates %d, charges %d, "
            "credits %s in %.2fs",
            command,
            day,
            c.rows_read,
            c.rows_accepted,
            c.rows_quarantined,
            c.duplicates,
            result.charge_rows,
            result.credits,
            result.seconds,
        )
        results.append(result)
    shutil.rmtree(stores.staging / run_id, ignore_errors=True)
    with contextlib.suppress(OSError):
        stores.staging.rmdir()
    return results


def days_for_run(out: Path | Store, day: date) -> list[date]:
    """``run --date D``: D and every later day already in OUT, so OUT equals a backfill."""
    return [day, *(d for d in processed_days(out) if d > day)]


def days_for_backfill(out: Path | Store, start: date, end: date) -> list[date]:
    """``backfill``: start..end, then any later day already in OUT (its month state may
    have changed), exactly what running ``run`` for each day in turn leaves behind."""
    span = [start + timedelta(days=i) for i in range((end - start).days + 1)]
    return span + [d for d in processed_days(out) if d > end]


def run(paths: Paths, day: date, command: str = "run", engine: str = "duckdb") -> list[DayResult]:
    return process_days(paths, lambda s, _: days_for_run(s.output, day), command, engine)


def stale_days(paths: Paths) -> list[DayStatus]:
    stores, _ = open_stores(
        paths, "spark" if is_uri(paths.input) or is_uri(paths.output) else "duckdb"
    )
    config = JobConfig.load(stores.input)
    return day_statuses(stores.input, stores.output, config.config_sha256)


def run_changed(paths: Paths, engine: str = "duckdb") -> list[DayResult]:
    """``run --since-changed``: recompute from the earliest stale day (and so every later
    day); nothing when every day is fresh."""

    def from_earliest_stale(stores: Stores, config: JobConfig) -> list[date]:
        statuses = day_statuses(stores.input, stores.output, config.config_sha256)
        stale = [s.day for s in statuses if s.state != "fresh"]
        return days_for_run(stores.output, stale[0]) if stale else []

    return process_days(paths, from_earliest_stale, "run", engine)


def backfill(paths: Paths, start: date, end: date, engine: str = "duckdb") -> list[DayResult]:
    if end < start:
        raise ConfigError(f"--to {end} is before --from {start}; fix: swap the dates")
    return process_days(
        paths, lambda s, _: days_for_backfill(s.output, start, end), "backfill", engine
    )
