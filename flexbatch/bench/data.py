"""The benchmark's input: its parameters, where it lives (``Dataset``), and generating it
once per parameter set (``ensure_dataset``)."""

from __future__ import annotations

import hashlib
import json
import shutil
import time
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from flexbatch.bench import synthetic
from flexbatch.bench.console import say

START_DAY = date(2026, 1, 1)


@dataclass(frozen=True)
class Dataset:
    root: Path
    input: Path
    days: tuple[date, ...]
    events_per_day: int
    files: int
    shape: str = "default"

    @property
    def events(self) -> int:
        return self.events_per_day * len(self.days)

    @property
    def usage_glob(self) -> str:
        return str(self.input / "usage" / "date=*" / "*.parquet")


def params(
    events: int, days: int, files: int, accounts: int, seed: int, shape: str = "default"
) -> dict[str, Any]:
    """What the files depend on, written to ``params.json``: a cached dataset is reused
    only while these match (the hash covers the generator SQL of the shape)."""
    generator = synthetic.events_sql(shape) + synthetic.RATE_PLANS + synthetic.GRANTS_SQL
    return {
        "events_per_day": events,
        "days": days,
        "files_per_day": files,
        "accounts": accounts,
        "seed": seed,
        "shape": shape,
        "start": START_DAY.isoformat(),
        "generator_sha256": hashlib.sha256(generator.encode()).hexdigest(),
    }


def dataset_root(
    work: Path, events: int, days: int, files: int, accounts: int, seed: int, shape: str
) -> Path:
    """``WORK/data-...``: one folder per parameter set, the shape named unless default."""
    suffix = "" if shape == "default" else f"-{shape}"
    return work / f"data-{events}x{days}d-{files}f-{accounts}a-s{seed}{suffix}"


def ensure_dataset(
    work: Path, events: int, *, days: int = 1, files: int = 8, accounts: int = 10_000,
    seed: int = 42, shape: str = "default",
) -> Dataset:  # fmt: skip
    """The synthetic input for these parameters under ``work``: reused when its
    ``params.json`` matches, else (re)generated; ``params.json`` is written last."""
    wanted = params(events, days, files, accounts, seed, shape)
    root = dataset_root(work, events, days, files, accounts, seed, shape)
    dataset = Dataset(
        root,
        root / "input",
        tuple(START_DAY + timedelta(days=i) for i in range(days)),
        events,
        files,
        shape,
    )
    marker = root / "params.json"
    if marker.exists() and json.loads(marker.read_text(encoding="utf-8")) == wanted:
        return dataset
    shutil.rmtree(root, ignore_errors=True)
    started = time.perf_counter()
    synthetic.write_rate_plans(dataset.input)
    synthetic.write_grants(dataset.input, START_DAY, accounts=accounts, seed=seed)
    for day in dataset.days:
        synthetic.write_day(
            dataset.input, day, events, accounts=accounts, files=files, seed=seed, shape=shape
        )
    marker.write_text(json.dumps(wanted, indent=2) + "\n", encoding="utf-8")
    elapsed = time.perf_counter() - started
    say(f"generated {dataset.events:,} events ({shape} shape) in {elapsed:.1f}s: {root}")
    return dataset
