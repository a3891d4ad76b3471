"""The books' entry points for the commands: ``close``, and what ``run``/``backfill``
do after their days (book, republish, and the unattended close)."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import date

from flexbatch.books.close import CloseResult, close_due, close_month
from flexbatch.books.commit import recover_closes
from flexbatch.books.frames import BooksMemory, books_memory
from flexbatch.books.months import parse_month
from flexbatch.books.settle import settle
from flexbatch.config import Paths
from flexbatch.errors import ConfigError
from flexbatch.ingest.job_config import JobConfig
from flexbatch.settings import Settings
from flexbatch.storage.publish import clear_staging, recover
from flexbatch.storage.stores import Store, is_uri, open_store

logger = logging.getLogger(__name__)


def after_days(
    inputs: Store,
    out: Store,
    config_sha256: str,
    run_id: str,
    days: Iterable[date],
    settings: Settings,
) -> list[CloseResult]:
    """After a command's days (and those an interrupted command set out to compute):
    book corrections, republish open statements, then close what is due."""
    recover_closes(out)  # a close a kill left committed is finished before anything reads
    with _books_memory(out, run_id, settings):
        settle(out, days, run_id)
        if settings.close_after_days is None:
            return []
        return close_due(inputs, out, config_sha256, settings.close_after_days, run_id)


@contextmanager
def _books_memory(out: Store, run_id: str, settings: Settings) -> Iterator[None]:
    """The books' DuckDB within the command's memory limit, spilling into its staging
    folder (cleared after)."""
    spill = out.staging / run_id / "books-spill"
    try:
        with books_memory(BooksMemory(settings.memory_limit, spill)):
            yield
    finally:
        clear_staging(out, run_id)


def close(paths: Paths, month: str | date, settings: Settings | None = None) -> CloseResult:
    """``flexbatch close --month M``: under the output lock, after recovery."""
    from flexbatch.job.day import new_run_id

    the_month = parse_month(month)
    for location in (paths.input, paths.output):
        if is_uri(location) and not str(location).startswith("s3://"):
            raise ConfigError(
                f"close: {location}: IN and OUT must be local folders or s3://; "
                "fix: copy or mount it"
            )
    out = open_store(paths.output, None, settings)
    if out.local_root is not None and not out.local_root.is_dir():
        raise ConfigError(f"--output {paths.output}: no such folder; fix: run flexbatch run first")
    inputs = open_store(paths.input, None, settings)
    config = JobConfig.load(inputs)
    with out.lock("close"):
        recover(out)
        run_id = new_run_id()
        with _books_memory(out, run_id, settings or Settings()):
            return close_month(inputs, out, config.config_sha256, the_month, run_id)
