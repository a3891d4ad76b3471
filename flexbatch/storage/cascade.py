"""Cascade integrity: a command that recomputes several days says so before it starts.

Each day's credit state continues the day before, so a command that recomputes day D
recomputes every later processed day too. If it dies half-way, the days it had not yet
republished still hold results computed from the old state. So, before its first day, a
command records its intent, ``OUT/_cascades/<run_id>.json``: each day it will compute with
the run that day's commit names now (null for a day not yet processed). A day is
*pending* while its commit still names that run: the command never got to it. The record
is deleted when the command has published every day.

A pending day is stale (``cascade interrupted``) in ``status``; ``run --since-changed``
recomputes it; and every later command recomputes the pending days (and the days after
them) before building on them.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import date

import polars as pl

from flexbatch.storage.stores import Store
from flexbatch.tables import table

logger = logging.getLogger(__name__)

CASCADES = "_cascades"


def published_runs(store: Store) -> dict[date, str]:
    """The latest run (by ``finished_at``) in each day's ``runs`` partition. ``runs`` is
    the last table a publication moves into place, so a day whose latest run is R holds
    R's rows in every table."""
    spec = table("runs")
    files = [f for f in store.walk(spec.path, 2) if f.name.endswith(".parquet")]
    if not files:
        return {}
    frames = [
        pl.read_parquet(
            store.local(f.rel), columns=["run_id", "finished_at"], glob=False
        ).with_columns(pl.lit(date.fromisoformat(f.folder.rsplit("=", 1)[1])).alias("date"))
        for f in files
    ]
    latest = pl.concat(frames).sort("finished_at").group_by("date").last()
    return dict(zip(latest["date"], latest["run_id"], strict=True))


@dataclass(frozen=True)
class Intent:
    run_id: str
    command: str
    before: dict[date, str | None]  # day -> the run its commit named when the intent began


def begin(store: Store, run_id: str, command: str, days: list[date]) -> None:
    """Record, before anything is published, the days ``run_id`` sets out to compute."""
    runs = published_runs(store)
    record = {
        "run_id": run_id,
        "command": command,
        "days": {d.isoformat(): runs.get(d) for d in days},
    }
    store.write_bytes(f"{CASCADES}/{run_id}.json", json.dumps(record, sort_keys=True).encode())


def finish(store: Store, superseded: list[Intent]) -> None:
    """Every day is published: this command's record and those it finished go."""
    for intent in superseded:
        store.delete(f"{CASCADES}/{intent.run_id}.json")
    if superseded and not store.list_files(CASCADES):
        store.delete(CASCADES)


def intents(store: Store) -> list[Intent]:
    found = []
    for info in store.list_files(CASCADES):
        if not info.name.endswith(".json") or info.name.startswith("."):
            continue
        record = json.loads(store.read_bytes(info.rel))
        before = {date.fromisoformat(d): run for d, run in record["days"].items()}
        found.append(Intent(record["run_id"], record["command"], before))
    return found


def pending_days(store: Store, found: list[Intent] | None = None) -> dict[date, Intent]:
    """Days an interrupted command set out to compute and never published, with the
    command's record."""
    found = intents(store) if found is None else found
    runs = published_runs(store) if found else {}
    pending: dict[date, Intent] = {}
    for intent in found:
        for day, before in intent.before.items():
            if runs.get(day) == before:
                pending.setdefault(day, intent)
    return dict(sorted(pending.items()))
