"""All writes to OUT: staging, the atomic publication of a day, and recovery.

Layout: ``OUT/<table>/date=YYYY-MM-DD/<file>.parquet``, one file per table and day (``runs``
keeps one file per run). A day is first written whole under ``OUT/_staging/<run_id>/``;
then a journal listing every move is written atomically, the files are renamed into
place (``os.replace``: atomic per file on one filesystem) and the journal is removed.
A crash before the journal leaves only staging (deleted on the next start); a crash
after it is finished by ``recover`` replaying the journal, so every table of a day moves
together and a reader never sees half a day's file.
"""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
from datetime import date
from pathlib import Path

import polars as pl

logger = logging.getLogger(__name__)

STAGING = "_staging"
PART_FILE = "part-0.parquet"
DAY_DIR = re.compile(r"^date=(\d{4}-\d{2}-\d{2})$")


def partition(out: Path, table: str, day: date, key: str = "date") -> Path:
    return out / table / f"{key}={day.isoformat()}"


def table_days(out: Path, table: str) -> list[date]:
    """Days with a published partition of ``table``, ascending."""
    folder = out / table
    if not folder.is_dir():
        return []
    days = []
    for child in folder.iterdir():
        match = DAY_DIR.match(child.name)
        if match and any(child.glob("*.parquet")):
            days.append(date.fromisoformat(match.group(1)))
    return sorted(days)


def processed_days(out: Path) -> list[date]:
    """Days already in OUT: every processed day publishes a ``usage_daily`` partition."""
    return table_days(out, "usage_daily")


def write_parquet(frame: pl.DataFrame, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    frame.write_parquet(path, compression="zstd", statistics=True, row_group_size=1_000_000)


class DayStage:
    """Collects one day's files under staging, then publishes them together."""

    def __init__(self, out: Path, run_id: str, day: date) -> None:
        self.out = out
        self.day = day
        self.root = out / STAGING / run_id / day.isoformat()
        self.moves: list[tuple[Path, Path]] = []

    def add(
        self, table: str, frame: pl.DataFrame, file_name: str = PART_FILE, key: str = "date"
    ) -> None:
        staged = self.root / table / file_name
        write_parquet(frame, staged)
        self.moves.append((staged, partition(self.out, table, self.day, key) / file_name))

    def publish(self) -> None:
        journal = self.root / "journal.json"
        tmp = journal.with_suffix(".tmp")
        tmp.write_text(json.dumps([[str(s), str(d)] for s, d in self.moves]), encoding="utf-8")
        _fsync(tmp)
        os.replace(tmp, journal)
        _apply(journal)
        shutil.rmtree(self.root, ignore_errors=True)


def _fsync(path: Path) -> None:
    with path.open("rb") as f:
        os.fsync(f.fileno())


def _apply(journal: Path) -> None:
    for source, target in json.loads(journal.read_text(encoding="utf-8")):
        source_path, target_path = Path(source), Path(target)
        if source_path.exists():
            target_path.parent.mkdir(parents=True, exist_ok=True)
            os.replace(source_path, target_path)
    journal.unlink()


def recover(out: Path) -> None:
    """Finish publications a crash interrupted; delete staging that never got a journal."""
    staging = out / STAGING
    if not staging.is_dir():
        return
    for journal in sorted(staging.glob("*/*/journal.json")):
        logger.warning("finishing interrupted publication %s", journal.parent)
        _apply(journal)
    shutil.rmtree(staging, ignore_errors=True)
