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

import polars as pl

from flexbatch.ingest.usage_input import partition_rel
from flexbatch.storage.publish import processed_days
from flexbatch.storage.stores import Location, Store, store_of


def day_manifest(input_root: Location | Store, day: date) -> str | None:
    """JSON list of [path, size, mtime_ns] of the day's usage files; None if no partition.
    (On a Hadoop store the modification time has millisecond precision.)"""
    store = store_of(input_root)
    folder = partition_rel(day)
    if not store.is_dir(folder):
        return None
    entries = [[f.rel, f.size, f.mtime_ns] for f in store.glob(f"{folder}/*.parquet")]
    return json.dumps(entries)


def manifest_sha256(manifest: str | None) -> str:
    return hashlib.sha256((manifest or "missing").encode()).hexdigest()


@dataclass(frozen=True)
class DayStatus:
    day: date
    last_run_at: str
    state: str  # fresh | stale: inputs changed | stale: config changed | stale: ... missing


def latest_runs(out: Location | Store) -> pl.DataFrame:
    store = store_of(out)
    files = [
        (store.local(f.rel), f.rel.split("/")[-2]) for f in store.glob("runs/date=*/*.parquet")
    ]
    if not files:
        return pl.DataFrame()
    frames = [
        pl.read_parquet(f).with_columns(pl.lit(date.fromisoformat(folder[5:])).alias("date"))
        for f, folder in files
    ]
    runs = pl.concat(frames, how="diagonal_relaxed")
    return runs.sort("finished_at").group_by("date").last().sort("date")


def day_statuses(
    input_root: Location | Store, out: Location | Store, config_sha256: str
) -> list[DayStatus]:
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
