"""Publication and the lock on an OUT given as a Hadoop URI (HDFS, S3A, ABFS, GCS, file://).

Such stores have no symbolic links and no ``flock``, so the local scheme of
:mod:`flexbatch.publish` becomes a commit file and a lease:

    OUT/_days/D/<run_id>/<table>/*.parquet   the day's generation, written whole first
    OUT/_days/D/CURRENT                      {"run_id": ..., "tables": {table: key}}
    OUT/<table>/<key>=D/*.parquet            the hive layout, copied from the generation

1. The generation is written: the driver uploads its tables, Spark has written the
   subject-sized ones there directly.
2. **Commit**: ``CURRENT`` is written as ``CURRENT.<run_id>`` and renamed over
   ``CURRENT``: an atomic rename on HDFS and local disks, the replacement of one object on
   object stores (a reader sees the old or the new object, never a mix).
3. The hive partitions are brought to the committed generation: each file is copied under
   a hidden name and renamed into place (no reader sees half a file), files the new
   generation does not have are deleted, and ``_days/D/<run_id>/_PUBLISHED`` is written.
4. The day's other generations are deleted.

A crash before 2 leaves the previous day; :func:`recover` deletes the unfinished
generation. A crash after 2 leaves the new day committed; :func:`recover` redoes step 3
from ``CURRENT`` (it is idempotent). Between 2 and the end of 3, a reader of the hive
folders can see one table of the new run next to another of the old one; a reader that
needs the day as one unit reads ``CURRENT`` and the generation it names
(:func:`committed_files`).

The lock is a lease object ``OUT/_lock``, created only if absent, renewed by the holder
every third of ``FLEXBATCH_LEASE_SECONDS`` (default 600) and deleted at the end; a lease
past its expiry (its holder died) is taken over by renaming it aside, which only one
taker can do.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime
from pathlib import Path

import polars as pl

from flexbatch.errors import LockHeldError
from flexbatch.publish import LOG_TABLES, PART_FILE, write_parquet
from flexbatch.storage import HadoopStore

logger = logging.getLogger(__name__)

DAYS = "_days"
COMMIT = "CURRENT"
PUBLISHED = "_PUBLISHED"
LOCK = "_lock"


def _day_root(day: date | str) -> str:
    return f"{DAYS}/{day if isinstance(day, str) else day.isoformat()}"


def read_commit(store: HadoopStore, day: date | str) -> dict | None:
    """The committed generation of a day (``run_id`` and its ``tables``), or None."""
    path = f"{_day_root(day)}/{COMMIT}"
    if not store.exists(path):
        return None
    return json.loads(store.read_bytes(path))


def committed_files(store: HadoopStore, table: str, day: date) -> list[str]:
    """The day's files of ``table`` as one unit with every other table of the day: those of
    the committed generation (URIs), whatever step 3 has reached."""
    commit = read_commit(store, day)
    if commit is None or table not in commit["tables"]:
        return []
    folder = f"{_day_root(day)}/{commit['run_id']}/{table}"
    return [store.spark_path(f.rel) for f in store.glob(f"{folder}/*.parquet")]


class RemoteDayStage:
    """One day's generation on a Hadoop store; the driver's tables are written locally
    under ``local_root`` first, then uploaded."""

    def __init__(self, store: HadoopStore, local_root: Path, run_id: str, day: date) -> None:
        self.store = store
        self.day = day
        self.run_id = run_id
        self.local_root = local_root
        self.root = f"{_day_root(day)}/{run_id}"
        self.tables: dict[str, str] = {}  # table -> partition key
        self.local_files: list[tuple[Path, str]] = []  # (local file, its path in the store)

    def target(self, table: str) -> str:
        """Where Spark writes ``table`` of this generation."""
        return self.store.spark_path(f"{self.root}/{table}")

    def add(
        self, table: str, frame: pl.DataFrame, file_name: str = PART_FILE, key: str = "date"
    ) -> None:
        local = self.local_root / table / file_name
        write_parquet(frame, local)
        self.local_files.append((local, f"{self.root}/{table}/{file_name}"))
        self.tables[table] = key
        if table in LOG_TABLES:  # earlier runs of the day stay in the log
            for earlier in self.store.glob(f"{table}/{key}={self.day.isoformat()}/*.parquet"):
                if earlier.name != file_name:
                    self.store.copy(earlier.rel, f"{self.root}/{table}/{earlier.name}")

    def adopt(self, table: str, key: str = "date") -> None:
        """A table Spark wrote into ``target(table)``."""
        self.tables[table] = key

    def publish(self) -> None:
        for local, rel in self.local_files:
            self.store.upload(local, rel)
        commit = json.dumps({"run_id": self.run_id, "tables": self.tables}).encode()
        day_root = _day_root(self.day)
        self.store.write_bytes(f"{day_root}/{COMMIT}.{self.run_id}", commit)
        self.store.rename_over(f"{day_root}/{COMMIT}.{self.run_id}", f"{day_root}/{COMMIT}")
        _materialise(self.store, self.day.isoformat(), self.run_id, self.tables)
        _prune(self.store, self.day.isoformat(), self.run_id)


def _materialise(store: HadoopStore, day: str, run_id: str, tables: dict[str, str]) -> None:
    """Step 3: each table's hive partition of ``day`` holds exactly the generation's files."""
    generation = f"{_day_root(day)}/{run_id}"
    for table, key in tables.items():
        partition = f"{table}/{key}={day}"
        new = store.glob(f"{generation}/{table}/*.parquet")
        for f in new:
            hidden = f"{partition}/.{f.name}.{run_id}.tmp"
            store.copy(f.rel, hidden)
            store.rename_over(hidden, f"{partition}/{f.name}")
        names = {f.name for f in new}
        for old in store.glob(f"{partition}/*"):
            if old.name not in names and not old.name.endswith(".crc"):
                store.delete(old.rel)
    store.write_bytes(f"{generation}/{PUBLISHED}", b"")


def _prune(store: HadoopStore, day: str, keep: str | None) -> None:
    """Delete every generation of ``day`` but ``keep``, and unfinished commit files."""
    root = _day_root(day)
    for name in store.list_names(root):
        if name not in (COMMIT, keep) and not name.startswith("."):
            store.delete(f"{root}/{name}")


def recover(store: HadoopStore) -> None:
    """After a crash: finish step 3 of a committed day, delete what was never committed.
    Three listings find the days in order (a commit, one generation, published); only
    the others are read one by one."""
    entries: dict[str, set[str]] = {day: set() for day in store.list_dirs(DAYS)}
    for rel in store.glob_all(f"{DAYS}/*/*"):
        _, day, name = rel.split("/")
        entries[day].add(name)
    published = {rel.split("/")[1] for rel in store.glob_all(f"{DAYS}/*/*/{PUBLISHED}")}
    for day, names in entries.items():
        generations = {n for n in names if n != COMMIT and not n.startswith(".")}
        if COMMIT in names and len(generations) == 1 and day in published:
            continue  # the one generation left after a finished publication
        commit = read_commit(store, day)
        if commit is None:
            logger.warning("removing the unpublished generations of %s", day)
            store.delete(_day_root(day))
            continue
        run_id = commit["run_id"]
        if not store.exists(f"{_day_root(day)}/{run_id}/{PUBLISHED}"):
            logger.warning("finishing the publication of %s (run %s)", day, run_id)
            _materialise(store, day, run_id, commit["tables"])
        _prune(store, day, run_id)


# --------------------------------------------------------------------------- the lease
LEASE_SECONDS = 600


def _lease_seconds() -> int:
    return int(os.environ.get("FLEXBATCH_LEASE_SECONDS", LEASE_SECONDS))


def _lease(command: str, token: str) -> bytes:
    now = time.time()
    return json.dumps(
        {
            "token": token,
            "pid": os.getpid(),
            "host": socket.gethostname(),
            "command": command,
            "started_at": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "expires_at": now + _lease_seconds(),
        }
    ).encode()


def _read_lease(store: HadoopStore, rel: str = LOCK) -> dict:
    try:
        return json.loads(store.read_bytes(rel) or b"{}")
    except Exception:  # vanished meanwhile, or unreadable: treat as unknown
        return {}


def _take(store: HadoopStore, command: str, token: str) -> None:
    if store.write_bytes(LOCK, _lease(command, token), overwrite=False):
        return
    held = _read_lease(store)
    if held and held.get("expires_at", 0) < time.time():
        aside = f"{LOCK}.expired-{uuid.uuid4().hex[:8]}"
        if store.rename(LOCK, aside):  # only one taker can move a given lease aside
            moved = _read_lease(store, aside)
            store.delete(aside)
            if moved.get("token") == held.get("token"):
                logger.warning("took over the expired lease of %s", _who(held))
                if store.write_bytes(LOCK, _lease(command, token), overwrite=False):
                    return
    raise LockHeldError(
        f"{store.display()}: locked by {_who(_read_lease(store) or held)}; fix: wait for it "
        f"to finish (a lease whose holder died expires {_lease_seconds()} s after its "
        "last renewal)"
    )


def _who(info: dict) -> str:
    if not info:
        return "an unknown process"
    return (
        f"pid {info.get('pid', '?')} on {info.get('host', '?')} "
        f"(command {info.get('command', '?')}, started {info.get('started_at', '?')})"
    )


@contextmanager
def remote_lock(store: HadoopStore, command: str) -> Iterator[None]:
    """Hold the lease on OUT for the block; LockHeldError (exit 4) at once if held."""
    token = uuid.uuid4().hex
    _take(store, command, token)
    stop = threading.Event()

    def renew() -> None:
        while not stop.wait(_lease_seconds() / 3):
            if _read_lease(store).get("token") == token:
                store.write_bytes(LOCK, _lease(command, token))

    renewer = threading.Thread(target=renew, name="flexbatch-lease", daemon=True)
    renewer.start()
    try:
        yield
    finally:
        stop.set()
        renewer.join()
        if _read_lease(store).get("token") == token:
            store.delete(LOCK)
