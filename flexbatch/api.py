"""flexbatch as a library (SPEC §11): the commands of the CLI as functions.

``import flexbatch`` exposes them (lazily: importing the package loads none of DuckDB,
Polars or Pandera; the first call does). Each function does what its command does, with
the same checks: days as ``datetime.date`` or ISO ``YYYY-MM-DD`` text, months as a date or
``YYYY-MM``, paths as ``str``/``Path`` or ``s3://bucket/prefix``; ``None`` falls back to
``FLEXBATCH_INPUT``/``FLEXBATCH_OUTPUT`` and ``flexbatch.toml`` as on the command line.
Every other knob comes from the ``FLEXBATCH_*`` environment, read at each call.

Failures raise :class:`flexbatch.FlexbatchError` subclasses whose ``exit_code`` is the
CLI's (2 bad arguments or configuration, 3 missing partition, 4 locked, 1 anything else);
operating-system failures a user can act on (a full disk, a permission) are raised as
those too. Nothing prints: logs go to the ``flexbatch`` logger, which has no output until
the application configures logging; the progress bar shows only when asked for.
``FLEXBATCH_METRICS_FILE`` is written, and an OUT a failed first run created is removed,
exactly as by the CLI. ``flexbatch/cli.py`` is a thin layer over these functions.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

from flexbatch.errors import ConfigError, FlexbatchError, known_failure

if TYPE_CHECKING:
    import polars as pl

    from flexbatch.config import Paths
    from flexbatch.job.day import DayResult
    from flexbatch.settings import Settings

PathLike = str | os.PathLike
DayLike = date | str

ISO_DAY = re.compile(r"\d{4}-\d{2}-\d{2}")
ISO_MONTH = re.compile(r"\d{4}-\d{2}")
ENGINES = ("duckdb", "spark")

# pandera imports pyspark whenever it is installed (flexbatch[spark]), and pyspark warns
# on import when pandas 3 is present: nothing a caller can act on
warnings.filterwarnings(
    "ignore", message="PySpark does not yet fully support pandas", category=FutureWarning
)


@dataclass(frozen=True)
class DaySummary:
    """One day a command computed and published."""

    day: date
    input_files: int
    rows_read: int
    rows_accepted: int
    rows_quarantined: int
    duplicates: int
    charge_rows: int
    credits: Decimal  # the day's charged credits, exact
    restated: int  # accounts and currencies whose day changed on republication
    seconds: float


@dataclass(frozen=True)
class RunSummary:
    """What ``run``, ``backfill`` or ``run_since_changed`` did: every day it published, in
    order (a run of day D also recomputes every later processed day)."""

    command: str
    input: str
    output: str
    days: tuple[DaySummary, ...]

    @property
    def processed(self) -> tuple[date, ...]:
        return tuple(d.day for d in self.days)

    @property
    def rows_read(self) -> int:
        return sum(d.rows_read for d in self.days)

    @property
    def rows_quarantined(self) -> int:
        return sum(d.rows_quarantined for d in self.days)

    @property
    def credits(self) -> Decimal:
        return sum((d.credits for d in self.days), Decimal(0))


# -- arguments -----------------------------------------------------------------------------
def parse_day(value: DayLike, option: str = "day") -> date:
    """A ``date`` or ISO ``YYYY-MM-DD`` text within the days flexbatch processes."""
    from flexbatch.config import check_day

    if isinstance(value, datetime):
        raise ConfigError(f"{option} {value!r} is a datetime; fix: pass a date (UTC day)")
    if isinstance(value, date):
        return check_day(value, option)
    if isinstance(value, str) and ISO_DAY.fullmatch(value):
        with contextlib.suppress(ValueError):
            return check_day(date.fromisoformat(value), option)
    raise ConfigError(f"{option} {value!r} is not a date; fix: use YYYY-MM-DD")


def parse_month(value: DayLike, option: str = "month") -> date:
    """The first day of a month given as a date (any day of it) or ``YYYY-MM`` text."""
    if isinstance(value, str) and ISO_MONTH.fullmatch(value):
        with contextlib.suppress(ValueError):
            return date.fromisoformat(f"{value}-01")
    if isinstance(value, date) and not isinstance(value, datetime):
        return value.replace(day=1)
    raise ConfigError(f"{option} {value!r} is not a month; fix: use YYYY-MM")


def _text(value: PathLike | None, key: str) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str | os.PathLike):
        raise ConfigError(f"{key} {value!r} is not a path; fix: pass a str or a Path")
    return os.fspath(value)


def _paths(input: PathLike | None, output: PathLike | None) -> Paths:
    from flexbatch.config import resolve_paths

    return resolve_paths(_text(input, "input"), _text(output, "output"))


def _engine(engine: str | None) -> str:
    name = engine or os.environ.get("FLEXBATCH_ENGINE") or "duckdb"
    if name not in ENGINES:
        raise ConfigError(f"engine {name!r} is unknown; fix: use one of {', '.join(ENGINES)}")
    return name


def _settings(settings: Settings | None) -> Settings:
    from flexbatch.settings import Settings

    return settings if settings is not None else Settings.from_env()


@contextlib.contextmanager
def known_failures(where: object = None) -> Iterator[None]:
    """Failures a user can act on (a full disk, a permission, S3 credentials) leave as
    FlexbatchError with the CLI's exit code; anything else is a bug and propagates."""
    try:
        yield
    except FlexbatchError:
        raise
    except Exception as exc:
        from flexbatch.config import current_output

        known = known_failure(exc, str(where) if where is not None else current_output())
        if known is None:
            from flexbatch.storage.s3 import s3_failure

            known = s3_failure(exc, str(where or current_output())) if _botocore(exc) else None
        if known is not None:
            raise known from exc
        raise


def _botocore(exc: BaseException) -> bool:
    return type(exc).__module__.startswith(("botocore", "boto3"))


def _summary(command: str, paths: Paths, results: list[DayResult]) -> RunSummary:
    days = tuple(
        DaySummary(
            day=r.day,
            input_files=r.input_files,
            rows_read=r.counts.rows_read,
            rows_accepted=r.counts.rows_accepted,
            rows_quarantined=r.counts.rows_quarantined,
            duplicates=r.counts.duplicates,
            charge_rows=r.charge_rows,
            credits=r.credits,
            restated=r.restated,
            seconds=r.seconds,
        )
        for r in results
    )
    return RunSummary(command, str(paths.input), str(paths.output), days)


# -- the job -------------------------------------------------------------------------------
def _job(
    label: str,
    command: str,
    input: PathLike | None,
    output: PathLike | None,
    settings: Settings | None,
    work: Any,
    first_checks: Any = None,
) -> RunSummary:
    """One writing command: arguments checked first, then the metrics file around it and
    an OUT it created removed again when it fails before publishing anything."""
    from flexbatch import config
    from flexbatch.job import metrics

    with known_failures():
        if first_checks is not None:
            first_checks()
        paths = _paths(input, output)
        the_settings = _settings(settings)
        with (
            metrics.recorded(the_settings.metrics_file, label, paths) as results,
            config.removed_if_left_empty(paths),
        ):
            results += work(paths, the_settings)
        return _summary(command, paths, results)


def run(
    day: DayLike,
    input: PathLike | None = None,
    output: PathLike | None = None,
    *,
    engine: str | None = None,
    progress: bool = False,
    settings: Settings | None = None,
) -> RunSummary:
    """The nightly job for ``day``: it, then every later day already in OUT."""
    from flexbatch.job import pipeline

    the_day = parse_day(day, "day")
    name = _engine(engine)
    return _job(
        "run",
        "run",
        input,
        output,
        settings,
        lambda paths, s: pipeline.run(paths, the_day, engine=name, settings=s, progress=progress),
    )


def backfill(
    start: DayLike,
    end: DayLike,
    input: PathLike | None = None,
    output: PathLike | None = None,
    *,
    engine: str | None = None,
    progress: bool = False,
    settings: Settings | None = None,
) -> RunSummary:
    """Every day ``start``..``end`` in order (then any later day already in OUT)."""
    from flexbatch.job import pipeline

    first, last = parse_day(start, "start"), parse_day(end, "end")
    name = _engine(engine)
    return _job(
        "backfill",
        "backfill",
        input,
        output,
        settings,
        lambda paths, s: pipeline.backfill(
            paths, first, last, engine=name, settings=s, progress=progress
        ),
    )


def run_since_changed(
    input: PathLike | None = None,
    output: PathLike | None = None,
    *,
    engine: str | None = None,
    progress: bool = False,
    settings: Settings | None = None,
) -> RunSummary:
    """Recompute from the earliest stale day (nothing when every day is fresh)."""
    from flexbatch.job import pipeline

    name = _engine(engine)
    return _job(
        "since_changed",
        "run",
        input,
        output,
        settings,
        lambda paths, s: pipeline.run_changed(paths, engine=name, settings=s, progress=progress),
    )


def close(
    month: DayLike,
    input: PathLike | None = None,
    output: PathLike | None = None,
    *,
    settings: Settings | None = None,
) -> Any:
    """Close a month's books (SPEC §8): its statements are issued and its ledger exports
    frozen; returns the ``CloseResult`` (``month``, ``closed_now``, ``closed_at``).
    Closing a closed month again changes nothing."""
    from flexbatch.books import commands

    the_month = parse_month(month, "month")
    with known_failures():
        return commands.close(_paths(input, output), the_month, _settings(settings))


# -- reading -------------------------------------------------------------------------------
def status(
    input: PathLike | None = None,
    output: PathLike | None = None,
    *,
    settings: Settings | None = None,
) -> list[dict[str, Any]]:
    """Every processed day: ``date``, ``state`` (fresh | stale), ``reason``, ``run_id``,
    ``finished_at`` (ISO text, UTC with ``Z``), exactly the keys of ``status --format
    json``."""
    from flexbatch.job.status import stale_days  # no engine nor validation library

    with known_failures():
        paths = _paths(input, output)
        return [s.as_json() for s in stale_days(paths, _settings(settings))]


@contextlib.contextmanager
def local_output(
    output: PathLike | None, tables: str = "views", settings: Settings | None = None
) -> Iterator[Path]:
    """OUT as a local folder for the commands that read it with DuckDB: a local OUT itself,
    or, for ``s3://``, a private mirror of its published tables (``views``: the tables
    ``sql`` shows; ``all``: every table, the state included), deleted afterwards."""
    from flexbatch.config import resolve_output_location

    with known_failures(output):
        out = resolve_output_location(_text(output, "output"))
        if isinstance(out, Path):
            yield out
            return
        from flexbatch.storage.mirror import mirrored_output

        with mirrored_output(out, tables, _settings(settings)) as folder:
            yield folder


def sql(
    query: str, output: PathLike | None = None, *, settings: Settings | None = None
) -> pl.DataFrame:
    """Read-only SQL (DuckDB dialect) over the output views, as a Polars frame (columns of
    types Polars cannot hold, such as INTERVAL or UUID, as DuckDB's text)."""
    import duckdb

    from flexbatch.serving import query as query_module

    with local_output(output, "views", settings) as out:
        if not out.is_dir():
            raise ConfigError(f"--output {out}: no such folder; fix: run flexbatch run first")
        con = query_module.sandbox(out)
        try:
            query_module._check_statements(con, query)
            return query_module._printable(con.sql(query), nested_ok=True).pl()
        except duckdb.Error as exc:
            raise query_module._query_error(exc) from exc
        finally:
            con.close()


def explain(
    transaction_id: str,
    input: PathLike | None = None,
    output: PathLike | None = None,
    *,
    limit: int = 100,
    settings: Settings | None = None,
) -> dict[str, Any]:
    """Why one charge row is what it is (SPEC §7): the object ``explain --format json``
    prints (``charge``, ``positions``, ``subjects``, ``events``, ``ledger``; decimals as
    exact text, times UTC with ``Z``)."""
    from flexbatch.audit import render

    return json.loads(render.to_json(_explain(transaction_id, input, output, limit, settings)))


def _explain(
    transaction_id: str,
    input: PathLike | None,
    output: PathLike | None,
    limit: int,
    settings: Settings | None,
) -> dict[str, Any]:
    """The explanation as :mod:`flexbatch.audit.explain` returns it (Python values)."""
    from flexbatch.audit import explain as explain_module

    if limit < 0:
        raise ConfigError(f"limit {limit}: must be 0 or more; fix: pass a count")
    with known_failures():
        paths = _paths(input, output)
        with (
            local_output(paths.output, "all", settings) as out,
            _local_input(paths.input, out, transaction_id, settings) as inp,
        ):
            return explain_module.explain(inp, out, transaction_id, limit)


@contextlib.contextmanager
def _local_input(
    inp: object, out: Path, transaction_id: str, settings: Settings | None
) -> Iterator[Path]:
    if isinstance(inp, Path):
        yield inp
        return
    from flexbatch.audit.explain import find_day
    from flexbatch.storage.mirror import mirrored_input

    if not out.is_dir():
        raise ConfigError(f"--output {out}: no such folder; fix: run flexbatch run first")
    day = find_day(out, transaction_id)
    with mirrored_input(str(inp), [day], _settings(settings)) as folder:
        yield folder


def simulate(
    plans: PathLike,
    start: DayLike,
    end: DayLike,
    input: PathLike | None = None,
    output: PathLike | None = None,
    *,
    diff: PathLike | None = None,
    settings: Settings | None = None,
) -> pl.DataFrame:
    """Re-price ``start``..``end`` under the draft rate plans ``plans`` in a scratch
    folder (OUT is never changed); returns the diff, one row per account, scope, product,
    plan and month charged on either side: ``credits_actual``, ``credits_simulated``,
    ``delta`` (exact decimals). ``diff`` also writes it (``.csv`` or ``.parquet``)."""
    first, last = parse_day(start, "start"), parse_day(end, "end")
    return _simulate(plans, first, last, input, output, diff, settings).diff


def _simulate(
    plans: PathLike,
    first: date,
    last: date,
    input: PathLike | None,
    output: PathLike | None,
    diff: PathLike | None,
    settings: Settings | None,
) -> Any:
    """The :class:`flexbatch.audit.simulate.Simulation` (summary and diff)."""
    from flexbatch.audit import simulate as simulate_module

    draft = Path(_text(plans, "plans") or "")
    with known_failures():
        paths = _paths(input, output)
        with local_output(paths.output, "all", settings) as out:
            days = _simulated_days(out, first, last)
            with _input_days(paths.input, days, settings) as inp:
                return simulate_module.simulate(
                    inp, out, draft, first, last, Path(_text(diff, "diff")) if diff else None
                )


def _simulated_days(out: Path, first: date, last: date) -> list[date]:
    from flexbatch.audit.simulate import first_recomputed_day
    from flexbatch.storage.publish import processed_days
    from flexbatch.storage.stores import LocalStore

    if last < first or not out.is_dir():
        return []  # simulate itself says what is wrong
    processed = processed_days(LocalStore(out))
    start = first_recomputed_day(processed, first, last)
    return [d for d in processed if start <= d <= last]


@contextlib.contextmanager
def _input_days(inp: object, days: list[date], settings: Settings | None) -> Iterator[Path]:
    if isinstance(inp, Path):
        yield inp
        return
    from flexbatch.storage.mirror import mirrored_input

    with mirrored_input(str(inp), days, _settings(settings)) as folder:
        yield folder
