"""Staleness: what each processed day was computed from, and which days are stale.

Every ``runs`` row records the day's input manifest (each usage file's path relative to
IN, size and modification time in ns) with its sha256, and the sha256 of the
configuration (rate plans, grants, transfers, top-up rules). A day is stale when an
interrupted command never republished it (``cascade interrupted``,
:mod:`flexbatch.storage.cascade`), when today's manifest or configuration differs from
those of its latest run, or when its usage partition has vanished.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import date, datetime

import polars as pl

from flexbatch.errors import MissingPartitionError
from flexbatch.ingest.usage_input import DayListing, list_day
from flexbatch.storage import cascade
from flexbatch.storage.partitions import read_partitions, table_files
from flexbatch.storage.publish import processed_days
from flexbatch.storage.stores import Store


def day_listing(store: Store, day: date) -> DayListing | None:
    """The day's listing of IN; None if IN has no partition for it."""
    try:
        return list_day(store, day)  # it checks the folder exists
    except MissingPartitionError:
        return None


def day_manifest(store: Store, day: date) -> str | None:
    """The day's ``DayListing.manifest`` (what a run of it would record); None if no
    partition."""
    listing = day_listing(store, day)
    return None if listing is None else listing.manifest


def manifest_sha256(manifest: str | None) -> str:
    return hashlib.sha256((manifest or "missing").encode()).hexdigest()


@dataclass(frozen=True)
class DayStatus:
    day: date
    state: str  # fresh | stale
    reason: str | None  # why a day is stale
    run_id: str | None  # the day's latest run
    finished_at: datetime | None
    unread: tuple[str, ...] = ()  # what IN's partition holds that a run does not read

    def as_json(self) -> dict[str, str | None]:
        finished = self.finished_at
        return {
            "date": self.day.isoformat(),
            "state": self.state,
            "reason": self.reason,
            "run_id": self.run_id,
            "finished_at": f"{finished:%Y-%m-%dT%H:%M:%S}Z" if finished else None,
        }


# what staleness reads of a ``runs`` row (a run recorded before inputs_sha256 has null)
RUN_COLUMNS = {
    "run_id": pl.String,
    "finished_at": pl.Datetime("us"),
    "inputs_sha256": pl.String,
    "config_sha256": pl.String,
}


def latest_runs(store: Store) -> pl.DataFrame:
    """The latest ``runs`` row of every day (by ``finished_at``): its ``RUN_COLUMNS`` and
    ``date``. One scan of every day's files."""
    runs = read_partitions(store, table_files(store, "runs"), RUN_COLUMNS)
    return runs.sort("finished_at").group_by("date").last().sort("date")


def _reason(listing: DayListing | None, run: dict | None, config_sha256: str) -> str | None:
    if run is None:
        return "no run recorded"
    if listing is None:
        return "usage partition missing"
    if manifest_sha256(listing.manifest) != run.get("inputs_sha256"):
        return "inputs changed"
    if config_sha256 != run["config_sha256"]:
        return "config changed"
    return None


def day_statuses(inputs: Store, out: Store, config_sha256: str) -> list[DayStatus]:
    """Every processed day, and every day an interrupted command left unpublished. IN's
    partition of each is listed once: for the reason and for what it holds unread."""
    runs = {row["date"]: row for row in latest_runs(out).iter_rows(named=True)}
    pending = cascade.pending_days(out)
    statuses = []
    for day in sorted(set(processed_days(out)) | set(pending)):
        run = runs.get(day)
        listing = day_listing(inputs, day)
        if day in pending:
            reason: str | None = "cascade interrupted"
        else:
            reason = _reason(listing, run, config_sha256)
        statuses.append(
            DayStatus(
                day,
                "stale" if reason else "fresh",
                reason,
                run["run_id"] if run else None,
                run["finished_at"] if run else None,
                listing.unread if listing else (),
            )
        )
    return statuses
