"""The nightly job and the backfill (SPEC §2): which days to compute, in which order, under
the output lock, with the cascade's intent recorded first."""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable, Iterator, Sequence
from datetime import date, timedelta

from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from flexbatch.books.commands import after_days
from flexbatch.config import Paths
from flexbatch.engines import Engine, make_engine
from flexbatch.errors import ConfigError
from flexbatch.ingest.job_config import JobConfig
from flexbatch.ingest.usage_input import require_partition
from flexbatch.job.changes import day_statuses
from flexbatch.job.day import DayResult, Job, new_run_id, process_day
from flexbatch.job.status import restated_days, stale_days  # noqa: F401 (re-exported)
from flexbatch.serving.catalog import refresh_catalog
from flexbatch.settings import Settings
from flexbatch.storage import cascade
from flexbatch.storage.publish import clear_staging, committed_by, processed_days, recover
from flexbatch.storage.s3 import is_s3
from flexbatch.storage.stores import Store, is_uri, open_store

logger = logging.getLogger(__name__)

DayChooser = Callable[[Store, Store, JobConfig], Sequence[date]]


def previous_processed_day(processed: set[date], day: date) -> date | None:
    """The latest processed day before ``day``: whose credit state ``day`` continues."""
    return max((d for d in processed if d < day), default=None)


class _Stores:
    """IN and OUT of one command, and its engine, started on first use (a night with
    nothing to do starts no JVM). A URI is reached through Spark's JVM, so it needs
    ``--engine spark``, whose session is then started at once."""

    def __init__(self, paths: Paths, engine: str, settings: Settings) -> None:
        self.engine_name = engine
        self.settings = settings
        self._engine: Engine | None = None
        session = None
        s3 = next((p for p in (paths.input, paths.output) if is_s3(p)), None)
        if s3 is not None and engine == "spark":  # s3:// is boto3's (flexbatch/storage/s3.py)
            raise ConfigError(
                f"--input/--output {s3}: with --engine spark, S3 is reached through "
                "Hadoop; fix: write s3a:// for Spark, or use the default engine"
            )
        uri = next((p for p in (paths.input, paths.output) if is_uri(p) and not is_s3(p)), None)
        if uri is not None:
            if engine != "spark":
                raise ConfigError(
                    f"--input/--output {uri}: a URI is read and written through Spark; "
                    "fix: add --engine spark, or give local folders"
                )
            session = self.engine.jvm_session
        self.inputs = open_store(paths.input, session, settings)
        self.output = open_store(paths.output, session, settings)

    @property
    def engine(self) -> Engine:
        if self._engine is None:
            self._engine = make_engine(self.engine_name, self.settings)
        return self._engine


def _with_pending(output: Store, days: Sequence[date]) -> tuple[list[date], list[cascade.Intent]]:
    """``days``, and every day an interrupted command left unpublished with the processed
    days after it: a later day is never built on a day computed from an old state."""
    found = cascade.intents(output)
    pending = cascade.pending_days(output, found)
    if not pending:
        return list(days), found
    first = min(pending)
    later = {d for d in processed_days(output) if d > first}
    logger.warning(
        "recomputing %d days an interrupted command left unpublished (from %s)",
        len(pending),
        first,
        extra={"pending_days": len(pending), "from_day": first.isoformat()},
    )
    return sorted(set(days) | set(pending) | later), found


def process_days(
    paths: Paths,
    choose_days: DayChooser,
    command: str,
    engine: str = "duckdb",
    settings: Settings | None = None,
    progress: bool | None = None,
) -> list[DayResult]:
    """Process the days ``choose_days`` lists, in order, under the output lock: the list
    is made after the lock is taken and interrupted publications are finished, so a day
    another run published meanwhile is not missed. Each day's state comes from the days
    before it. ``progress``: a bar on stderr (None: when stderr is a terminal)."""
    settings = settings or Settings()
    stores = _Stores(paths, engine, settings)
    config = JobConfig.load(stores.inputs)
    output = stores.output
    with output.lock(command):
        recover(output)
        days, superseded = _with_pending(output, choose_days(stores.inputs, output, config))
        for day in days:  # fail before writing anything when a day has no partition
            require_partition(stores.inputs, day)
        results = []
        run_id = new_run_id()
        if days:
            job = Job(
                stores.inputs,
                output,
                config,
                stores.engine,
                run_id,
                command,
                settings.memory_limit,
            )
            cascade.begin(output, job.run_id, command, days)
            intent = cascade.Intent(job.run_id, command, {})
            try:
                results = _process(job, days, progress)
            except Exception:
                if not committed_by(output, job.run_id):  # refused before any commit:
                    cascade.finish(output, [intent])  # nothing changed, nothing is stale
                raise
            superseded.append(intent)
        # the books follow the days (and those an interrupted command left): before the
        # cascade records go, so a kill in between is finished by the next command
        touched = [*days, *(d for found in superseded for d in found.before)]
        after_days(
            stores.inputs,
            output,
            config.config_sha256,
            run_id,
            touched,
            settings,
        )
        cascade.finish(output, superseded)
        refresh_catalog(output)
    return results


def _process(job: Job, days: Sequence[date], progress: bool | None = None) -> list[DayResult]:
    results = []
    processed = set(processed_days(job.output))  # listed once, then kept up to date
    for day in _with_progress(days, job.command, progress):
        result = process_day(job, day, previous_processed_day(processed, day))
        processed.add(day)
        c = result.counts
        logger.info(
            "%s %s: read %d, accepted %d, quarantined %d, duplicates %d, charges %d, "
            "credits %s in %.2fs",
            job.command,
            day,
            c.rows_read,
            c.rows_accepted,
            c.rows_quarantined,
            c.duplicates,
            result.charge_rows,
            result.credits,
            result.seconds,
            extra={
                "day": day.isoformat(),
                "rows_read": c.rows_read,
                "rows_accepted": c.rows_accepted,
                "rows_quarantined": c.rows_quarantined,
                "duplicates": c.duplicates,
                "charge_rows": result.charge_rows,
                "restated": result.restated,
                "seconds": round(result.seconds, 3),
            },
        )
        results.append(result)
    clear_staging(job.output, job.run_id)
    return results


def _with_progress(days: Sequence[date], label: str, show: bool | None) -> Iterator[date]:
    if not (sys.stderr.isatty() if show is None else show):
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


def days_for_run(out: Store, day: date) -> list[date]:
    """``run --date D``: D and every later day already in OUT, so OUT equals a backfill."""
    return [day, *(d for d in processed_days(out) if d > day)]


def days_for_backfill(out: Store, start: date, end: date) -> list[date]:
    """``backfill``: start..end, then any later day already in OUT (its month state may
    have changed), exactly what running ``run`` for each day in turn leaves behind."""
    span = [start + timedelta(days=i) for i in range((end - start).days + 1)]
    return span + [d for d in processed_days(out) if d > end]


def run(
    paths: Paths,
    day: date,
    command: str = "run",
    engine: str = "duckdb",
    settings: Settings | None = None,
    progress: bool | None = None,
) -> list[DayResult]:
    chooser: DayChooser = lambda _, out, __: days_for_run(out, day)  # noqa: E731
    return process_days(paths, chooser, command, engine, settings, progress)


def _reading_engine(*locations: object) -> str:
    """The engine whose stores reach ``locations``: Spark's JVM for a Hadoop URI."""
    hadoop = any(is_uri(p) and not is_s3(p) for p in locations)  # type: ignore[arg-type]
    return "spark" if hadoop else "duckdb"


def reading_stores(paths: Paths, settings: Settings) -> tuple[Store, Store]:
    """IN and OUT for a read (``status``), a URI reached as the commands reach it (a
    Hadoop URI through Spark's JVM); local folders need none of this module."""
    engine = _reading_engine(paths.input, paths.output)
    stores = _Stores(paths, engine, settings)
    return stores.inputs, stores.output


def run_changed(
    paths: Paths,
    engine: str = "duckdb",
    settings: Settings | None = None,
    progress: bool | None = None,
) -> list[DayResult]:
    """``run --since-changed``: recompute from the earliest stale day (and so every later
    day); nothing when every day is fresh."""

    def from_earliest_stale(inputs: Store, out: Store, config: JobConfig) -> list[date]:
        statuses = day_statuses(inputs, out, config.config_sha256)
        stale = [s.day for s in statuses if s.state != "fresh"]
        return days_for_run(out, stale[0]) if stale else []

    return process_days(paths, from_earliest_stale, "run", engine, settings, progress)


def backfill(
    paths: Paths,
    start: date,
    end: date,
    engine: str = "duckdb",
    settings: Settings | None = None,
    progress: bool | None = None,
) -> list[DayResult]:
    if end < start:
        raise ConfigError(f"--to {end} is before --from {start}; fix: swap the dates")
    chooser: DayChooser = lambda _, out, __: days_for_backfill(out, start, end)  # noqa: E731
    return process_days(paths, chooser, "backfill", engine, settings, progress)
