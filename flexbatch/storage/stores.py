"""Where IN and OUT live: the ``Store`` contract, and its local-folder implementation.

A store is a root (a local folder, or a Hadoop URI: :mod:`flexbatch.storage.hadoop`) and
everything the job does with files under it: list a folder's entries by exact name (no
path is ever a pattern), read a file or a byte range, get a local copy for the driver's
DuckDB, write, rename and delete, and hold the output lock. The publication protocol
(:mod:`flexbatch.storage.publish`) is written once against this contract, so a local OUT
and a URI OUT publish a day the same way; the pipeline never asks which one it has.
"""

from __future__ import annotations

import contextlib
import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from flexbatch.settings import Settings
from flexbatch.storage.lock import output_lock

Location = Path | str  # a local folder, or a URI (kept as text: Path folds "//")

STAGING = "_staging"


def is_uri(location: Location) -> bool:
    return isinstance(location, str) and "://" in location


@dataclass(frozen=True)
class FileInfo:
    rel: str  # '/'-separated path under the store's root
    size: int
    mtime_ns: int

    @property
    def name(self) -> str:
        return self.rel.rsplit("/", 1)[-1]

    @property
    def folder(self) -> str:
        return self.rel.rsplit("/", 1)[0] if "/" in self.rel else ""


class Store(Protocol):
    """IN or OUT. ``rel`` paths are '/'-separated, relative to the root, and literal."""

    #: a local folder for this command's staging and spill files
    staging: Path
    #: the root as a local folder, or None (readers that need local files skip the store)
    local_root: Path | None

    def display(self, rel: str = "") -> str: ...
    def list_files(self, folder: str) -> list[FileInfo]: ...
    def list_dirs(self, folder: str) -> list[str]: ...
    def walk(self, folder: str, depth: int, *, dirs: bool = False) -> list[FileInfo]: ...
    def is_dir(self, rel: str) -> bool: ...
    def exists(self, rel: str) -> bool: ...
    def read_bytes(self, rel: str) -> bytes: ...
    def read_range(self, rel: str, offset: int, length: int) -> bytes: ...
    def local(self, rel: str) -> Path: ...
    def engine_path(self, rel: str) -> str: ...
    def config_folder(self, names: tuple[str, ...]) -> contextlib.AbstractContextManager[Path]: ...
    def write_bytes(self, rel: str, data: bytes, *, overwrite: bool = True) -> bool: ...
    def put(self, local: Path, rel: str) -> None: ...
    def rename(self, src: str, dst: str) -> bool: ...
    def rename_over(self, src: str, dst: str) -> None: ...
    def delete(self, rel: str) -> None: ...
    def sync(self, rels: list[str]) -> None: ...
    def lock(self, command: str) -> contextlib.AbstractContextManager[None]: ...
    def check_lock(self) -> None: ...
    def spark_target(self, rel: str) -> str | None: ...
    def upgrade(self) -> None: ...


class LocalStore:
    """A local folder: the files themselves. Staging lives in ``OUT/_staging`` (the same
    file system, so a staged file is moved into place by a rename, never copied)."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self.local_root: Path | None = self.root
        self.staging = self.root / STAGING

    def _path(self, rel: str) -> Path:
        return self.root / rel if rel else self.root

    # -- reading -------------------------------------------------------------------------
    def display(self, rel: str = "") -> str:
        return str(self._path(rel))

    def list_files(self, folder: str) -> list[FileInfo]:
        """The files directly in ``folder`` (none if it is absent), sorted by name."""
        return [info for info, is_dir in self._entries(folder) if not is_dir]

    def list_dirs(self, folder: str) -> list[str]:
        return [info.name for info, is_dir in self._entries(folder) if is_dir]

    def _entries(self, folder: str) -> list[tuple[FileInfo, bool]]:
        try:
            with os.scandir(self._path(folder)) as entries:
                found = []
                for entry in entries:
                    rel = f"{folder}/{entry.name}" if folder else entry.name
                    if entry.is_dir():
                        found.append((FileInfo(rel, 0, 0), True))
                    elif entry.is_file():
                        stat = entry.stat()
                        found.append((FileInfo(rel, stat.st_size, stat.st_mtime_ns), False))
        except (FileNotFoundError, NotADirectoryError):
            return []
        return sorted(found, key=lambda pair: pair[0].rel)

    def walk(self, folder: str, depth: int, *, dirs: bool = False) -> list[FileInfo]:
        """The files (with ``dirs``, the folders) exactly ``depth`` levels below
        ``folder``; 1 is its own entries."""
        if depth == 1:
            return [info for info, is_dir in self._entries(folder) if is_dir == dirs]
        return [
            info
            for sub in self.list_dirs(folder)
            for info in self.walk(f"{folder}/{sub}" if folder else sub, depth - 1, dirs=dirs)
        ]

    def is_dir(self, rel: str) -> bool:
        return self._path(rel).is_dir()

    def exists(self, rel: str) -> bool:
        return os.path.lexists(self._path(rel))

    def read_bytes(self, rel: str) -> bytes:
        return self._path(rel).read_bytes()

    def read_range(self, rel: str, offset: int, length: int) -> bytes:
        with self._path(rel).open("rb") as f:
            f.seek(offset)
            return f.read(length)

    def local(self, rel: str) -> Path:
        return self._path(rel)

    def engine_path(self, rel: str) -> str:
        return str(self._path(rel))

    @contextlib.contextmanager
    def config_folder(self, names: tuple[str, ...]) -> Iterator[Path]:
        yield self.root

    # -- writing -------------------------------------------------------------------------
    def write_bytes(self, rel: str, data: bytes, *, overwrite: bool = True) -> bool:
        """Write a small file whole: under a hidden name, synced, then renamed into place
        (with ``overwrite=False``, only if absent; False if it was there)."""
        path = self._path(rel)
        path.parent.mkdir(parents=True, exist_ok=True)
        hidden = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        with hidden.open("wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        if overwrite:
            os.replace(hidden, path)
            return True
        return self.rename(hidden.relative_to(self.root).as_posix(), rel)

    def put(self, local: Path, rel: str) -> None:
        """Move a file written under ``staging`` (or anywhere on this disk) to ``rel``."""
        target = self._path(rel)
        if local != target:
            target.parent.mkdir(parents=True, exist_ok=True)
            os.replace(local, target)

    def rename(self, src: str, dst: str) -> bool:
        """Rename unless ``dst`` exists (a hard link refuses an existing name atomically)."""
        target = self._path(dst)
        target.parent.mkdir(parents=True, exist_ok=True)
        try:
            os.link(self._path(src), target)
        except FileExistsError:
            return False
        os.unlink(self._path(src))
        return True

    def rename_over(self, src: str, dst: str) -> None:
        target = self._path(dst)
        target.parent.mkdir(parents=True, exist_ok=True)
        os.replace(self._path(src), target)

    def delete(self, rel: str) -> None:
        path = self._path(rel)
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path)
        elif os.path.lexists(path):
            path.unlink()

    def sync(self, rels: list[str]) -> None:
        """Flush these files and their folders to disk (before a commit names them)."""
        folders = set()
        for rel in rels:
            fsync(self._path(rel))
            folders.add(self._path(rel).parent)
        for folder in folders:
            fsync(folder)

    def lock(self, command: str) -> contextlib.AbstractContextManager[None]:
        return output_lock(self.root, command)

    def check_lock(self) -> None:
        """Nothing to check: the kernel holds a flock until the process ends."""

    def spark_target(self, rel: str) -> str | None:
        """Spark executors on a cluster cannot reach the driver's disk: the driver writes
        every table of a local OUT itself."""
        return None

    def upgrade(self) -> None:
        """Partitions that earlier versions published as symbolic links become folders."""
        from flexbatch.storage.legacy import unlink_partitions

        unlink_partitions(self.root)


def fsync(path: Path) -> None:
    """Flush a file, or a folder's entries, to disk."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def open_store(
    location: Location, jvm_session: object | None = None, settings: Settings | None = None
) -> Store:
    """The store of a folder or a URI: ``s3://`` through boto3 (the DuckDB engine), any
    other URI through the Spark session whose JVM reaches it."""
    if isinstance(location, str) and location.startswith("s3://") and jvm_session is None:
        from flexbatch.storage.s3 import S3Store

        settings = settings or Settings()
        return S3Store(location, settings.work_dir, settings.lease_seconds)  # type: ignore[arg-type]
    if is_uri(location):
        from flexbatch.storage.hadoop import HadoopStore

        if jvm_session is None:
            raise ValueError("a URI store needs the Spark session")
        settings = settings or Settings()
        return HadoopStore(
            str(location),
            jvm_session,
            settings.work_dir,
            settings.lease_seconds,  # type: ignore[arg-type]
        )
    return LocalStore(Path(location))


def store_of(location: Location | Store, jvm_session: object | None = None) -> Store:
    """``location``'s store (a store is returned as it is)."""
    if isinstance(location, (str, Path)):
        return open_store(location, jvm_session)
    return location
