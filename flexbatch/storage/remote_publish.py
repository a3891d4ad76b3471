"""Publication and the lock on an OUT given as a Hadoop URI (HDFS, S3A, ABFS, GCS, file://).

Such stores have no symbolic links and no ``flock``, and only HDFS renames over an
existing file atomically, so the local scheme of :mod:`flexbatch.storage.publish` becomes a
commit log and a lease:

    OUT/_days/D/<run_id>/<table>/*.parquet          the day's generation, written whole first
    OUT/_days/D/_commits/<seq>.<run_id>.json        {"run_id", "tables": {table: key}}
    OUT/<table>/<key>=D/*.parquet                   the hive layout, copied from the generation

1. The generation is written: the driver uploads its tables, Spark has written the
   subject-sized ones there directly.
2. **Commit**: the next commit file of the day is written under a hidden name and renamed
   to ``<seq>.<run_id>.json``, a name that did not exist: atomic on every Hadoop store
   (a rename on HDFS, ABFS and local disks; on S3 and GCS the new object appears whole or
   not at all). The highest ``<seq>`` is the day's committed generation.
3. The hive partitions are brought to the committed generation: each file is copied under
   a hidden name and renamed into place (no reader sees half a file), files the new
   generation does not have are deleted, and ``_days/D/<run_id>/_PUBLISHED`` is written.
4. The day's other generations and older commit files are deleted.

A crash before 2 leaves the previous day; :func:`recover` deletes the unfinished
generation. A crash after 2 leaves the new day committed; :func:`recover` redoes step 3
from the commit (it is idempotent). While step 3 runs, a reader of the hive folders can
see files of both runs; a reader that needs the day as one unit reads the commit and the
generation it names (:func:`committed_files`).

The lock is a lease object ``OUT/_lock``, created only if absent, renewed by the holder
every third of ``FLEXBATCH_LEASE_SECONDS`` (default 600) and deleted at the end; a lease
past its expiry (its holder died) is taken over by renaming it aside, which only one
taker can do. A holder checks it still holds the lease before each commit.
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
from flexbatch.storage.publish import DAYS, LOG_TABLES, PART_FILE, write_parquet
from flexbatch.storage.stores import HadoopStore

logger = logging.getLogger(__name__)

COMMITS = "_commits"
PUBLISHED = "_PUBLISHED"
LOCK = "_lock"


def _day_root(day: date | str) -> str:
    return f"{DAYS}/{day if isinstance(day, str) else day.isoformat()}"


def _commit_names(store: HadoopStore, day: date | str) -> list[str]:
    """The day's commit files, oldest first (``<seq>.<run_id>.json``)."""
    return [f.name for f in store.glob(f"{_day_root(day)}/{COMMITS}/*.json")]


def read_commit(store: HadoopStore, day: date | str) -> dict | None:
    """The committed generation of a day (``run_id`` and its ``tables``), or None."""
    names = _commit_names(store, day)
    if not names:
        return None
    return json.loads(store.read_bytes(f"{_day_root(day)}/{COMMITS}/{names[-1]}"))


def committed_files(store: HadoopStore, table: str, day: date) -> list[str]:
    """The day's files of ``table`` as one unit with every other table of the day: those of
    the committed generation (URIs), whatever step 3 has reached."""
    commit = read_commit(store, day)
    if commit is None or table not in commit["tables"]:
        return []
    folder = f"{_day_root(day)}/{commit['run_id']}/{table}"
    return [store.spark_path(f.rel) for f in store.glob(f"{folder}/*.parquet")]


def _commit(store: HadoopStore, day: date, run_id: str, tables: dict[str, str]) -> None:
    """Step 2: the day's next commit file, under a name no earlier commit had."""
    names = _commit_names(store, day)
    seq = int(names[-1].split(".")[0]) + 1 if names else 1
    folder = f"{_day_root(day)}/{COMMITS}"
    hidden = f"{folder}/.{seq:08d}.{run_id}.tmp"
    store.write_bytes(hidden, json.dumps({"run_id": run_id, "tables": tables}).encode())
    if not store.rename(hidden, f"{folder}/{seq:08d}.{run_id}.json"):
        raise OSError(f"{store.display(hidden)}: could not be renamed into the commit log")


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
        assert_lease(self.store)  # a holder that lost its lease must not commit
        _commit(self.store, self.day, self.run_id, self.tables)
        _materialise(self.store, self.day.isoformat(), self.run_id, self.tables)
        _prune(self.store, self.day.isoformat(), self.run_id)


def _materialise(store: HadoopStore, day: str, run_id: str, tables: dict[str, str]) -> None:
    """Step 3: each table's hive partition of ``day`` holds exactly the generation's files."""
    generation = f"{_day_root(day)}/{run_id}"
    if not store.is_dir(generation):  # never empty the hive folders from a lost generation
        raise FileNotFoundError(f"{store.display(generation)}: committed generation is missing")
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


def _prune(store: HadoopStore, day: str, keep: str) -> None:
    """Delete every generation of ``day`` but ``keep``, and every commit file but its
    latest (once step 3 is done, the older ones name deleted generations)."""
    root = _day_root(day)
    for name in store.list_names(root):
        if name not in (COMMITS, keep) and not name.startswith("."):
            store.delete(f"{root}/{name}")
    latest = _commit_names(store, day)[-1]
    for name in store.list_names(f"{root}/{COMMITS}"):
        if name != latest and not name.startswith(f".{latest}"):  # (or its checksum file)
            store.delete(f"{root}/{COMMITS}/{name}")


def recover(store: HadoopStore) -> None:
    """After a crash: finish step 3 of a committed day, delete what was never committed.
    Three listings find the days already in order (one generation, its commit the only
    one, published); only the others are looked at one by one."""
    entries: dict[str, set[str]] = {day: set() for day in store.list_dirs(DAYS)}
    for rel in store.glob_all(f"{DAYS}/*/*"):
        _, day, name = rel.split("/")
        entries[day].add(name)
    commits: dict[str, list[str]] = {}
    for info in store.glob(f"{DAYS}/*/{COMMITS}/*.json"):
        commits.setdefault(info.rel.split("/")[1], []).append(info.name)
    published = set(store.glob_all(f"{DAYS}/*/*/{PUBLISHED}"))
    for day, names in entries.items():
        day_commits = commits.get(day, [])
        if not day_commits:
            logger.warning("removing the unpublished generations of %s", day)
            store.delete(_day_root(day))
            continue
        run_id = day_commits[-1].split(".")[1]
        generations = {n for n in names if n != COMMITS and not n.startswith(".")}
        finished = f"{_day_root(day)}/{run_id}/{PUBLISHED}" in published
        if finished and len(day_commits) == 1 and generations == {run_id}:
            continue  # the one generation left after a finished publication
        if not finished:
            logger.warning("finishing the publication of %s (run %s)", day, run_id)
            commit = read_commit(store, day)
            assert commit is not None and commit["run_id"] == run_id
            _materialise(store, day, run_id, commit["tables"])
        _prune(store, day, run_id)


# --------------------------------------------------------------------------- the lease
LEASE_SECONDS = 600


def _lease_seconds() -> int:
    return int(os.environ.get("FLEXBATCH_LEASE_SECONDS", LEASE_SECONDS))


def _lease(holder: dict) -> bytes:
    return json.dumps({**holder, "expires_at": time.time() + _lease_seconds()}).encode()


def _read_lease(store: HadoopStore, rel: str = LOCK) -> dict:
    try:
        return json.loads(store.read_bytes(rel) or b"{}")
    except Exception:  # vanished meanwhile, or unreadable: treat as unknown
        return {}


def _expired(store: HadoopStore, held: dict) -> bool:
    """Past its expiry; a lease without one (its writer died mid-write) expires a lease
    length after it was last modified."""
    if "expires_at" in held:
        return float(held["expires_at"]) < time.time()
    files = store.glob(LOCK)
    return bool(files) and files[0].mtime_ns / 1e9 + _lease_seconds() < time.time()


def _take(store: HadoopStore, holder: dict) -> None:
    if store.write_bytes(LOCK, _lease(holder), overwrite=False):
        return
    held = _read_lease(store)
    if _expired(store, held):
        aside = f"{LOCK}.expired-{uuid.uuid4().hex[:8]}"
        if store.rename(LOCK, aside):  # only one taker can move a given lease aside
            if _read_lease(store, aside).get("token") == held.get("token"):
                store.delete(aside)
                logger.warning("took over the expired lease of %s", _who(held))
                if store.write_bytes(LOCK, _lease(holder), overwrite=False):
                    return
            else:  # a live lease another taker created meanwhile: put it back
                store.rename(aside, LOCK)
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


def assert_lease(store: HadoopStore) -> None:
    """Raise LockHeldError unless this process still holds the lease (checked before each
    commit: a run paused past its lease must not publish over its successor)."""
    held = _read_lease(store)
    if store.lease_token is None or held.get("token") != store.lease_token:
        raise LockHeldError(
            f"{store.display()}: this run lost its lease to {_who(held)}; nothing more is "
            "published; fix: raise FLEXBATCH_LEASE_SECONDS above the longest pause"
        )


@contextmanager
def remote_lock(store: HadoopStore, command: str) -> Iterator[None]:
    """Hold the lease on OUT for the block; LockHeldError (exit 4) at once if held."""
    holder = {
        "token": uuid.uuid4().hex,
        "pid": os.getpid(),
        "host": socket.gethostname(),
        "command": command,
        "started_at": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
    }
    _take(store, holder)
    store.lease_token = holder["token"]
    stop = threading.Event()

    def renew() -> None:
        while not stop.wait(_lease_seconds() / 3):
            try:
                if _read_lease(store).get("token") != holder["token"]:
                    logger.error("the lease on %s was taken over", store.display())
                    return  # assert_lease refuses the next commit
                store.write_bytes(LOCK, _lease(holder))
            except Exception as exc:  # a store hiccup: try again at the next beat
                logger.warning("lease renewal failed: %s", exc)

    renewer = threading.Thread(target=renew, name="flexbatch-lease", daemon=True)
    renewer.start()
    try:
        yield
    finally:
        stop.set()
        renewer.join()
        store.lease_token = None
        if _read_lease(store).get("token") == holder["token"]:
            store.delete(LOCK)
