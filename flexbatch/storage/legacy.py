"""Upgrade of a local OUT written by a version that published partitions as symbolic
links into ``OUT/_days/D/current`` (a link to the day's generation).

Each linked partition becomes a plain folder holding copies of its files, and each day's
current generation becomes a commit record of the new protocol. Runs once, under the
output lock, from recovery; while a partition is swapped (a rename) a reader may miss it.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
from pathlib import Path

logger = logging.getLogger(__name__)

DAYS = "_days"
CURRENT = "current"


def _linked_partitions(root: Path) -> list[Path]:
    """Links named ``key=value`` anywhere under ``root`` (``_days`` aside)."""
    found = []
    for folder, dirs, _ in os.walk(root):
        here = Path(folder)
        if here == root and DAYS in dirs:
            dirs.remove(DAYS)
        found.extend(here / d for d in dirs if "=" in d and (here / d).is_symlink())
    return found


def unlink_partitions(root: Path) -> None:
    links = _linked_partitions(root)
    for link in links:
        copy = link.with_name(f".{link.name}.upgrade")
        shutil.rmtree(copy, ignore_errors=True)
        shutil.copytree(link.resolve(), copy)
        link.unlink()
        os.replace(copy, link)
    days = root / DAYS
    for day_root in sorted(days.iterdir()) if days.is_dir() else []:
        current = day_root / CURRENT
        if not current.is_symlink():
            continue
        run_id = os.readlink(current)
        generation = day_root / run_id
        tables = {
            table.relative_to(generation).as_posix(): sorted(
                p.name for p in table.glob("*.parquet")
            )
            for table in generation.rglob("*")
            if table.is_dir() and any(table.glob("*.parquet"))
        }
        commits = day_root / "_commits"
        commits.mkdir(exist_ok=True)
        record = {"run_id": run_id, "tables": {t: {"files": f} for t, f in tables.items()}}
        (commits / f"{1:08d}.{run_id}.json").write_text(json.dumps(record))
        current.unlink()
        shutil.rmtree(generation)
    if links:
        logger.warning("upgraded %d linked partitions of %s to plain folders", len(links), root)
