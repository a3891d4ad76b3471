"""The publication of a day: one protocol for a local OUT and a Hadoop URI OUT.

Readers see plain hive folders of real files, ``OUT/<table>/<key>=D/part-0.parquet``
(``runs`` and ``restatements``: a ``run-<run_id>.parquet`` per run), so DuckDB's ``**``
glob, Polars, pyarrow, Spark and ``cp -r``/``rsync``/object-store syncs see every row.
A day is published in three steps::

    OUT/_days/D/<run_id>/<table>/<file>            1. the generation, written whole
    OUT/_days/D/_commits/<seq>.<run_id>.json       2. the commit: the day changes here
    OUT/<table>/<key>=D/<file>                     3. each file renamed into place

1. Every table of the day is written into a new generation folder (by the driver, or by
   Spark for the subject-sized tables of a URI OUT) and synced.
2. **Commit**: a record naming the run and each table's files is written under a hidden
   name and renamed to the next ``<seq>.<run_id>.json``, a name that did not exist (atomic
   on local disks and every Hadoop store).
3. **Roll forward**: each file of the generation is renamed over its hive partition's file
   (atomic per file), in registry order with ``runs`` last; files of a table's partition
   the commit does not name are deleted (log tables keep their earlier runs' files); then
   the generation folder and the day's older commits are deleted.

A crash before 2 leaves the old day (or no day) in every table: :func:`recover` deletes the
uncommitted generation. A crash after 2 leaves the day committed: :func:`recover` finishes
step 3 (a file already moved is skipped: it is idempotent). Each table's partition is one
file, so a reader of one table sees the old day or the new one, never half or both;
across tables, during step 3 (milliseconds on a local disk) a reader may see a new table
beside an old one. ``runs`` moves last: once a day's latest run is in ``runs``, every table
of the day holds that run's rows.
"""

from __future__ import annotations

import json
import logging
import shutil
import time
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import polars as pl

from flexbatch.storage.partitions import is_table_file
from flexbatch.storage.partitions import partition_files as partition_files  # re-exported
from flexbatch.storage.stores import Store
from flexbatch.tables import TABLES, table

logger = logging.getLogger(__name__)

DAYS = "_days"
COMMITS = "_commits"


def write_parquet(frame: pl.DataFrame | pl.LazyFrame, path: Path) -> None:
    """One Parquet file; a LazyFrame streams into it (the same bytes as its collected
    frame's: Polars' writer sinks a DataFrame the same way)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    options = {"compression": "zstd", "statistics": True, "row_group_size": 1_000_000}
    if isinstance(frame, pl.LazyFrame):
        frame.sink_parquet(path, **options)
    else:
        frame.write_parquet(path, **options)


def day_root(day: date | str) -> str:
    return f"{DAYS}/{day if isinstance(day, str) else day.isoformat()}"


@dataclass
class DayStage:
    """One day's new generation: tables are added, then published as one commit."""

    store: Store
    day: date
    run_id: str
    files: dict[str, list[str]] = field(default_factory=dict)  # table path -> file names

    @property
    def root(self) -> str:
        return f"{day_root(self.day)}/{self.run_id}"

    @property
    def scratch(self) -> Path:
        """A local folder for this run's sorted intermediate files (cleared with staging)."""
        return self.store.staging / self.run_id / "sorted"

    def add(self, table_path: str, frame: pl.DataFrame | pl.LazyFrame) -> None:
        """Write ``frame`` as the table's file of the day into the generation."""
        name = table(table_path).file_name(self.run_id)
        rel = f"{self.root}/{table_path}/{name}"
        local = self.store.staging / self.run_id / rel
        write_parquet(frame, local)
        self.store.put(local, rel)
        self.files[table_path] = [name]

    def spark_target(self, table_path: str) -> str | None:
        """Where Spark may write ``table_path`` into the generation itself (None: the
        driver writes it)."""
        return self.store.spark_target(f"{self.root}/{table_path}")

    def adopt(self, table_path: str) -> None:
        """The one Parquet file Spark wrote into ``spark_target(table_path)`` becomes the
        table's file; Spark's markers and checksums go."""
        folder = f"{self.root}/{table_path}"
        written = self.store.list_files(folder)
        parts = [f for f in written if is_table_file(f.name)]
        if len(parts) != 1:
            raise OSError(f"{self.store.display(folder)}: Spark wrote {len(parts)} files, not 1")
        name = table(table_path).file_name(self.run_id)
        self.store.rename_over(parts[0].rel, f"{folder}/{name}")
        for extra in written:
            if extra.rel != parts[0].rel:
                self.store.delete(extra.rel)
        self.files[table_path] = [name]

    def publish(self) -> None:
        started = time.perf_counter()
        self.store.sync([f"{self.root}/{t}/{n}" for t, names in self.files.items() for n in names])
        self.store.check_lock()  # a holder that lost its lease must not commit
        _commit(self.store, self.day.isoformat(), self.run_id, self.files)
        committed = time.perf_counter()
        _roll_forward(self.store, self.day.isoformat(), self.run_id, self.files)
        logger.info(
            "published %s",
            self.day,
            extra={
                "day": self.day.isoformat(),
                "commit_seconds": round(committed - started, 6),
                "publish_seconds": round(time.perf_counter() - started, 6),
            },
        )


def _is_record(name: str) -> bool:
    """A commit record's file name (a hidden one is a record being written)."""
    return name.endswith(".json") and not name.startswith(".")


def _commit_names(store: Store, day: str) -> list[str]:
    """The day's commit records, oldest first (``<seq>.<run_id>.json``)."""
    infos = store.list_files(f"{day_root(day)}/{COMMITS}")
    return [f.name for f in infos if _is_record(f.name)]


def read_commit(store: Store, day: date | str) -> dict | None:
    """The day's committed run: ``{"run_id", "tables": {table: {"files": [...]}}}``."""
    day = day if isinstance(day, str) else day.isoformat()
    names = _commit_names(store, day)
    if not names:
        return None
    return json.loads(store.read_bytes(f"{day_root(day)}/{COMMITS}/{names[-1]}"))


def _commit(store: Store, day: str, run_id: str, files: dict[str, list[str]]) -> None:
    """Step 2: the day's next commit record, under a name no earlier one had."""
    names = _commit_names(store, day)
    seq = int(names[-1].split(".")[0]) + 1 if names else 1
    folder = f"{day_root(day)}/{COMMITS}"
    record = {"run_id": run_id, "tables": {t: {"files": f} for t, f in files.items()}}
    hidden = f"{folder}/.{seq:08d}.{run_id}.tmp"
    store.write_bytes(hidden, json.dumps(record, sort_keys=True).encode())
    if not store.rename(hidden, f"{folder}/{seq:08d}.{run_id}.json"):
        raise OSError(f"{store.display(hidden)}: could not be renamed into the commit log")
    store.sync([f"{folder}/{seq:08d}.{run_id}.json"])


def _roll_forward(store: Store, day: str, run_id: str, files: dict[str, list[str]]) -> None:
    """Step 3, idempotent: every table's partition of ``day`` holds the commit's files."""
    generation = f"{day_root(day)}/{run_id}"
    for spec in TABLES:  # registry order: runs last
        names = files.get(spec.path)
        if names is None:
            continue
        partition = spec.partition(day)
        for name in names:
            staged = f"{generation}/{spec.path}/{name}"
            if store.exists(staged):
                store.rename_over(staged, f"{partition}/{name}")
            elif not store.exists(f"{partition}/{name}"):
                raise FileNotFoundError(
                    f"{store.display(staged)}: a committed file is missing; fix: rerun the "
                    f"day ({day}) to publish it again"
                )
        if not spec.log:
            for old in store.list_files(partition):
                if old.name not in names:
                    store.delete(old.rel)
    _prune(store, day, run_id)


def _prune(store: Store, day: str, keep_commit_of: str) -> None:
    """Delete the day's generations (the committed one is empty by now) and every commit
    record but the latest."""
    root = day_root(day)
    for name in store.list_dirs(root):
        if name != COMMITS:
            store.delete(f"{root}/{name}")
    names = _commit_names(store, day)
    for info in store.list_files(f"{root}/{COMMITS}"):
        if info.name != names[-1]:
            store.delete(info.rel)
    logger.debug("pruned %s, kept the commit of %s", day, keep_commit_of)


def recover(store: Store) -> None:
    """After a crash: finish step 3 of a committed day, delete what was never committed,
    and clear the staging folder. Two listings find the days already in order (a lone
    commit record and no generation); only the others are looked at one by one."""
    store.upgrade()
    entries: dict[str, set[str]] = {}
    for info in store.walk(DAYS, 2, dirs=True):  # _days/D/<run_id> and _days/D/_commits
        _, day, name = info.rel.split("/")
        entries.setdefault(day, set()).add(name)
    commits: dict[str, list[str]] = {}
    for info in store.walk(DAYS, 3):  # _days/D/_commits/<record>
        _, day, folder, name = info.rel.split("/")
        if folder == COMMITS:
            commits.setdefault(day, []).append(name)
    for day, names in sorted(entries.items()):
        records = sorted(n for n in commits.get(day, []) if _is_record(n))
        if not records:
            logger.warning("removing the unpublished generations of %s", day)
            store.delete(day_root(day))
            continue
        run_id = records[-1].split(".")[1]
        if run_id in names:
            logger.warning("finishing the publication of %s (run %s)", day, run_id)
            commit = read_commit(store, day)
            assert commit is not None and commit["run_id"] == run_id
            files = {t: spec["files"] for t, spec in commit["tables"].items()}
            _roll_forward(store, day, run_id, files)
        elif names != {COMMITS} or len(commits[day]) > 1:
            _prune(store, day, run_id)
    clear_staging(store)


def clear_staging(store: Store, run_id: str | None = None) -> None:
    """Delete one run's staged files (all runs' when ``run_id`` is None); a remote store's
    cache of account-sized files stays."""
    staging = store.staging
    if not staging.is_dir():
        return
    for child in staging.iterdir():
        if child.name != "cache" and (run_id is None or child.name == run_id):
            shutil.rmtree(child, ignore_errors=True)
    if not any(staging.iterdir()):
        staging.rmdir()


def latest_commits(store: Store) -> dict[date, str]:
    """Each day's latest commit record name, ``<seq>.<run_id>.json`` (one listing). Every
    publication of a day (a rerun, a restatement, a cascade) commits under a name no
    earlier one had, and the latest record stays until the next: the name identifies the
    publication whose files the day holds once it is rolled forward."""
    found: dict[str, str] = {}
    for info in store.walk(DAYS, 3):  # _days/D/_commits/<record>
        _, day, folder, name = info.rel.split("/")
        if folder == COMMITS and _is_record(name):
            found[day] = max(found.get(day, name), name)
    return {date.fromisoformat(day): name for day, name in found.items()}


def committed_by(store: Store, run_id: str) -> list[date]:
    """The days whose commit records name ``run_id`` (one listing)."""
    return sorted(
        date.fromisoformat(info.rel.split("/")[1])
        for info in store.walk(DAYS, 3)
        if info.rel.split("/")[2] == COMMITS and info.name.endswith(f".{run_id}.json")
    )


def processed_days(store: Store) -> list[date]:
    """Days already in OUT: every processed day publishes a ``usage_daily`` partition."""
    spec = table("usage_daily")
    days = set()
    for info in store.walk(spec.path, 2):  # usage_daily/date=D/part-0.parquet
        folder = info.rel.split("/")[-2]
        if folder.startswith(f"{spec.partition_key}=") and is_table_file(info.name):
            try:
                days.add(date.fromisoformat(folder.split("=", 1)[1]))
            except ValueError:
                continue  # not a partition of ours
    return sorted(days)
