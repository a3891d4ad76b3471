"""All writes to OUT: staging, the atomic publication of a day, and recovery.

Readers see ``OUT/<table>/<key>=YYYY-MM-DD/part-0.parquet`` (``key`` is ``date``, or
``as_of`` for the forecast). Each such partition folder is a symbolic link into the day's
current generation::

    OUT/charges/date=D  ->  ../_days/D/current/charges
    OUT/_days/D/current ->  <run_id>            (one generation: every table of the day)

A day is written whole into a new generation folder ``OUT/_days/D/<run_id>/``; then one
``os.replace`` of the ``current`` link flips every table of the day at once, and the old
generation is deleted. A crash before the flip leaves the old day (or no day) in every
table; after it, the new day in every table; ``recover`` on the next start deletes the
generations that are not current. ``runs`` keeps every run of the day: a new generation
carries the current one's run files plus its own.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
from datetime import date
from pathlib import Path

import polars as pl

from flexbatch.storage.stores import Location, Store, store_of

logger = logging.getLogger(__name__)

STAGING = "_staging"
PART_FILE = "part-0.parquet"
DAY_DIR = re.compile(r"^date=(\d{4}-\d{2}-\d{2})$")


def partition(out: Path, table: str, day: date, key: str = "date") -> Path:
    return out / table / f"{key}={day.isoformat()}"


def table_days(out: Location | Store, table: str) -> list[date]:
    """Days with a published partition of ``table``, ascending."""
    days = set()
    for info in store_of(out).glob(f"{table}/date=*/*.parquet"):
        match = DAY_DIR.match(info.rel.split("/")[-2])
        if match:
            days.add(date.fromisoformat(match.group(1)))
    return sorted(days)


def processed_days(out: Location | Store) -> list[date]:
    """Days already in OUT: every processed day publishes a ``usage_daily`` partition."""
    return table_days(out, "usage_daily")


def write_parquet(frame: pl.DataFrame, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    frame.write_parquet(path, compression="zstd", statistics=True, row_group_size=1_000_000)


DAYS = "_days"
CURRENT = "current"
LOG_TABLES = frozenset({"runs"})  # tables that accumulate a file per run


def _relative_link(link: Path, target: Path) -> None:
    """Create ``link`` -> ``target`` (relative, so OUT can move) unless it is already there."""
    if link.is_symlink():
        return
    if link.is_dir():  # a partition written by a version without generations
        shutil.rmtree(link)
    link.parent.mkdir(parents=True, exist_ok=True)
    os.symlink(os.path.relpath(target, link.parent), link)


class DayStage:
    """Collects one day's files in a new generation, then publishes them together."""

    def __init__(self, out: Path, run_id: str, day: date) -> None:
        self.out = out
        self.day = day
        self.run_id = run_id
        self.day_root = out / DAYS / day.isoformat()
        self.root = self.day_root / run_id
        self.links: list[tuple[str, str]] = []  # (table, partition key)

    def add(
        self, table: str, frame: pl.DataFrame, file_name: str = PART_FILE, key: str = "date"
    ) -> None:
        write_parquet(frame, self.root / table / file_name)
        self.links.append((table, key))
        if table in LOG_TABLES:  # earlier runs of the day stay in the log
            for earlier in partition(self.out, table, self.day, key).glob("*.parquet"):
                if earlier.name != file_name:
                    shutil.copy2(earlier, self.root / table / earlier.name)

    def publish(self) -> None:
        for table, key in self.links:
            _relative_link(
                partition(self.out, table, self.day, key), self.day_root / CURRENT / table
            )
        flip = self.day_root / f"{CURRENT}.new"
        if flip.is_symlink():
            flip.unlink()
        os.symlink(self.run_id, flip)
        os.replace(flip, self.day_root / CURRENT)  # the moment the whole day changes
        _prune(self.day_root)


def _prune(day_root: Path) -> None:
    """Delete every generation of a day but the current one, and an unfinished flip."""
    current = os.readlink(day_root / CURRENT) if (day_root / CURRENT).is_symlink() else None
    for child in day_root.iterdir():
        if child.name == CURRENT or child.name == current:
            continue
        if child.is_symlink():
            child.unlink()
        else:
            shutil.rmtree(child, ignore_errors=True)


def recover(out: Path) -> None:
    """After a crash: delete generations that never became (or no longer are) current
    and the staging folder. A published day is never touched."""
    days = out / DAYS
    if days.is_dir():
        for day_root in days.iterdir():
            _prune(day_root)
            if not (day_root / CURRENT).is_symlink():
                logger.warning("removing the unpublished generations of %s", day_root.name)
                shutil.rmtree(day_root, ignore_errors=True)
    shutil.rmtree(out / STAGING, ignore_errors=True)
