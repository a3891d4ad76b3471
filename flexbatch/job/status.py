"""``status`` (SPEC §2): every processed day, fresh or stale with its reason, and the
restatements recorded per day. A read of OUT's records and IN's file listings and bytes:
it loads no engine and validates nothing (the configuration's digest is of its bytes,
``job_config.config_sha256``), so it answers at once on a year of days."""

from __future__ import annotations

from datetime import date

from flexbatch.config import Paths
from flexbatch.ingest.job_config import config_sha256
from flexbatch.job import restatements
from flexbatch.job.changes import DayStatus, day_statuses
from flexbatch.settings import Settings
from flexbatch.storage.stores import Store, is_uri, open_store


def _stores(paths: Paths, settings: Settings | None) -> tuple[Store, Store]:
    """IN and OUT: local folders directly; a URI as the commands reach it."""
    settings = settings or Settings()
    if is_uri(paths.input) or is_uri(paths.output):
        from flexbatch.job.pipeline import reading_stores

        return reading_stores(paths, settings)
    return open_store(paths.input, None, settings), open_store(paths.output, None, settings)


def stale_days(paths: Paths, settings: Settings | None = None) -> list[DayStatus]:
    """Every processed day, fresh or stale with its reason (no lock: a read)."""
    inputs, output = _stores(paths, settings)
    return day_statuses(inputs, output, config_sha256(inputs))


def restated_days(paths: Paths, settings: Settings | None = None) -> dict[date, int]:
    """Restatement rows recorded per day of OUT."""
    return restatements.counts(_stores(paths, settings)[1])


def day_report(
    paths: Paths, settings: Settings | None = None
) -> tuple[list[DayStatus], dict[date, int]]:
    """The days of the text ``status``: ``stale_days`` (each with what IN's partition holds
    unread, from the same listing) and ``restated_days``, from one opening of the stores."""
    inputs, output = _stores(paths, settings)
    return day_statuses(inputs, output, config_sha256(inputs)), restatements.counts(output)
