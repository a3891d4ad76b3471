"""Change detection: what each processed day was computed from, and which days are stale.

Every ``runs`` row records the day's input manifest (each usage file's path relative to
IN, size and modification time in ns) with its sha256, and the sha256 of the
configuration (rate plans, grants, transfers). A day is stale when today's manifest or
configuration differs from those of its latest run, or its partition has vanished.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import polars as pl

from flexbatch.publish import processed_days
from flexbatch.usage_input import partition_dir


def day_manifest(input_root: Path, day: date) -> str | None:
    """JSON list of [path, size, mtime_ns] of the day's usage files; None if no partition."""
    folder = partition_dir(input_root, day)
    if not folder.is_dir():
        return None
    entries = []
    for path in sorted(folder.glob("*.parquet")):
        stat = path.stat()
        entries.append([str(path.relative_to(input_root)), stat.st_size, stat.st_mtime_ns])
    return json.dumps(entries)


def manifest_sha256(manifest: str | None) -> str:
    return hashlib.sha256((manifest or "missing").encode()).hexdigest()


@dataclass(frozen=True)
class DayStatus:
    day: date
    last_run_at: str
    state: str  # fresh | stale: inputs changed | stale: config changed | stale: ... missing


def latest_runs(out: Path) -> pl.DataFrame:
    files = sorted((out / "runs").glob("date=*/*.parquet"))
    if not files:
        return pl.DataFrame()
    frames = [
        pl.read_parquet(f).with_columns(pl.lit(date.fromisoformat(f.parent.name[5:])).alias("date"))
        for f in files
    ]
    runs = pl.concat(frames, how="diagonal_relaxed")
    return runs.sort("finished_at").group_by("date").last().sort("date")


def day_statuses(input_root: Path, out: Path, config_sha256: str) -> list[DayStatus]:
    runs = {row["date"]: row for row in latest_runs(out).iter_rows(named=True)}
    statuses = []
    for day in processed_days(out):
        run = runs.get(day)
        if run is None:
            statuses.append(DayStatus(day, "", "stale: no run recorded"))
            continue
        manifest = day_manifest(input_root, day)
        if manifest is None:
            state = "stale: usage partition missing"
        elif manifest_sha256(manifest) != run.get("inputs_sha256"):
            state = "stale: inputs changed"
        elif config_sha256 != run["config_sha256"]:
            state = "stale: config changed"
        else:
            state = "fresh"
        statuses.append(DayStatus(day, f"{run['finished_at']:%Y-%m-%dT%H:%M:%SZ}", state))
    return statuses
