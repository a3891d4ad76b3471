"""Where IN and OUT live: a local folder, or any Hadoop-compatible URI (``hdfs://``,
``s3a://``, ``abfs://``, ``gs://``, ``file://``) reached through Spark's JVM.

The job reads IN and OUT through a small ``Store``: list files by glob, read a file (or
the byte range of a Parquet footer), and get a local copy of an account-sized file for the
driver's DuckDB. Event-sized files are never copied: Spark reads them where they are
(``spark_path``). A ``HadoopStore`` uses ``org.apache.hadoop.fs.FileSystem`` with the
session's Hadoop configuration, so it reaches whatever the cluster's Spark reaches, with
the same credentials; writing a day to it is :mod:`flexbatch.storage.remote_publish`.
"""

from __future__ import annotations

import hashlib
import logging
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

logger = logging.getLogger(__name__)

Location = Path | str  # a local folder, or a URI (kept as text: Path folds "//")


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


class Store(Protocol):
    def display(self, rel: str = "") -> str: ...
    def glob(self, pattern: str) -> list[FileInfo]: ...
    def is_dir(self, rel: str) -> bool: ...
    def read_bytes(self, rel: str) -> bytes: ...
    def read_range(self, rel: str, offset: int, length: int) -> bytes: ...
    def local(self, rel: str) -> Path: ...
    def spark_path(self, rel: str) -> str: ...


class LocalStore:
    """A local folder: the files themselves."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    def display(self, rel: str = "") -> str:
        return str(self.root / rel) if rel else str(self.root)

    def glob(self, pattern: str) -> list[FileInfo]:
        infos = []
        for path in self.root.glob(pattern):
            if path.is_file():
                stat = path.stat()
                rel = path.relative_to(self.root).as_posix()
                infos.append(FileInfo(rel, stat.st_size, stat.st_mtime_ns))
        return sorted(infos, key=lambda i: i.rel)

    def is_dir(self, rel: str) -> bool:
        return (self.root / rel).is_dir()

    def read_bytes(self, rel: str) -> bytes:
        return (self.root / rel).read_bytes()

    def read_range(self, rel: str, offset: int, length: int) -> bytes:
        with (self.root / rel).open("rb") as f:
            f.seek(offset)
            return f.read(length)

    def local(self, rel: str) -> Path:
        return self.root / rel

    def spark_path(self, rel: str) -> str:
        return str(self.root / rel)


class HadoopStore:
    """A Hadoop-compatible URI, through the Spark driver's JVM. Account-sized files the
    driver's DuckDB reads are copied once into a local cache (keyed by size and
    modification time, so a file rewritten by a later run is fetched again)."""

    def __init__(self, uri: str, spark: SparkSession, cache: Path | None = None) -> None:
        self.spark = spark
        self.jvm: Any = spark._jvm  # type: ignore[attr-defined]
        self.conf = spark._jsc.hadoopConfiguration()  # type: ignore[attr-defined]
        hadoop_path = self.jvm.org.apache.hadoop.fs.Path(uri.rstrip("/"))
        self.fs = hadoop_path.getFileSystem(self.conf)
        self.root_path = self.fs.makeQualified(hadoop_path)
        self.uri = str(self.root_path.toString())
        digest = hashlib.sha256(self.uri.encode()).hexdigest()[:12]
        self.cache = cache or Path(tempfile.gettempdir()) / f"flexbatch-cache-{digest}"
        self.lease_token: str | None = None  # set while this process holds OUT's lease

    # -- paths ---------------------------------------------------------------------------
    def path(self, rel: str = "") -> Any:
        return self.jvm.org.apache.hadoop.fs.Path(self.root_path, rel) if rel else self.root_path

    def display(self, rel: str = "") -> str:
        return f"{self.uri}/{rel}" if rel else self.uri

    def spark_path(self, rel: str) -> str:
        return self.display(rel)

    def _rel(self, hadoop_path: Any) -> str:
        full = self.fs.makeQualified(hadoop_path).toUri().getPath()
        return str(full)[len(str(self.root_path.toUri().getPath())) :].lstrip("/")

    # -- reading -------------------------------------------------------------------------
    def glob(self, pattern: str) -> list[FileInfo]:
        statuses = self.fs.globStatus(self.path(pattern))
        infos = [
            FileInfo(self._rel(s.getPath()), int(s.getLen()), int(s.getModificationTime()) * 10**6)
            for s in (statuses or [])
            if s.isFile()
        ]
        return sorted(infos, key=lambda i: i.rel)

    def glob_all(self, pattern: str) -> list[str]:
        """Paths (files and folders) matching ``pattern``, relative to the root."""
        return sorted(self._rel(s.getPath()) for s in self.fs.globStatus(self.path(pattern)) or [])

    def is_dir(self, rel: str) -> bool:
        path = self.path(rel)
        return bool(self.fs.exists(path)) and bool(self.fs.getFileStatus(path).isDirectory())

    def exists(self, rel: str) -> bool:
        return bool(self.fs.exists(self.path(rel)))

    def list_names(self, rel: str, *, dirs_only: bool = False) -> list[str]:
        """Names of the entries of folder ``rel`` (none if it is absent)."""
        path = self.path(rel)
        if not self.fs.exists(path):
            return []
        statuses = self.fs.listStatus(path)
        return sorted(
            str(s.getPath().getName()) for s in statuses if s.isDirectory() or not dirs_only
        )

    def list_dirs(self, rel: str) -> list[str]:
        return self.list_names(rel, dirs_only=True)

    def read_bytes(self, rel: str) -> bytes:
        stream = self.fs.open(self.path(rel))
        try:
            return bytes(self.jvm.org.apache.commons.io.IOUtils.toByteArray(stream))
        finally:
            stream.close()

    def read_range(self, rel: str, offset: int, length: int) -> bytes:
        stream = self.fs.open(self.path(rel))
        try:
            stream.seek(offset)
            return bytes(self.jvm.org.apache.commons.io.IOUtils.toByteArray(stream, length))
        finally:
            stream.close()

    def local(self, rel: str) -> Path:
        status = self.fs.getFileStatus(self.path(rel))
        stamp = f"{int(status.getLen())}-{int(status.getModificationTime())}"
        target = self.cache / stamp / rel  # keeps the hive folders: date= is read from it
        if not target.is_file():
            target.parent.mkdir(parents=True, exist_ok=True)
            partial = target.with_name(f".{target.name}.partial")
            self.fs.copyToLocalFile(
                False, self.path(rel), self.jvm.org.apache.hadoop.fs.Path(str(partial)), True
            )
            partial.replace(target)
        return target

    # -- writing -------------------------------------------------------------------------
    def write_bytes(self, rel: str, data: bytes, *, overwrite: bool = True) -> bool:
        """Write a small file; with ``overwrite=False``, only if absent (False if it was
        there: the create is atomic on HDFS, ABFS, GCS and S3 with conditional writes)."""
        from py4j.protocol import Py4JJavaError  # with pyspark: only a HadoopStore needs it

        try:
            stream = self.fs.create(self.path(rel), overwrite)
        except Py4JJavaError as exc:
            java_class = exc.java_exception.getClass().getName()
            if not overwrite and java_class.endswith("FileAlreadyExistsException"):
                return False
            raise
        try:
            stream.write(bytearray(data))
        finally:
            stream.close()
        return True

    def upload(self, local: Path, rel: str) -> None:
        """Copy a local file to ``rel`` (overwriting)."""
        self.fs.copyFromLocalFile(
            False, True, self.jvm.org.apache.hadoop.fs.Path(str(local)), self.path(rel)
        )

    def copy(self, src: str, dst: str) -> None:
        self.jvm.org.apache.hadoop.fs.FileUtil.copy(
            self.fs, self.path(src), self.fs, self.path(dst), False, True, self.conf
        )

    def rename_over(self, src: str, dst: str) -> None:
        """Rename ``src`` onto ``dst``, replacing it: one atomic step on HDFS and local
        disks; on object stores a copy of one object (atomic per object) and a delete."""
        fs_api = self.jvm.org.apache.hadoop.fs
        context = fs_api.FileContext.getFileContext(self.fs.getUri(), self.conf)
        gateway = self.spark.sparkContext._gateway  # type: ignore[attr-defined]
        options = gateway.new_array(fs_api.Options.Rename, 1)
        options[0] = fs_api.Options.Rename.OVERWRITE
        context.rename(self.path(src), self.path(dst), options)

    def rename(self, src: str, dst: str) -> bool:
        """Rename unless ``dst`` exists; False when ``src`` is gone or ``dst`` is there."""
        return bool(self.fs.rename(self.path(src), self.path(dst)))

    def delete(self, rel: str, *, recursive: bool = True) -> None:
        self.fs.delete(self.path(rel), recursive)

    def mkdirs(self, rel: str) -> None:
        self.fs.mkdirs(self.path(rel))


def store_of(location: Location | Store, spark: SparkSession | None = None) -> Store:
    """The store of a folder or URI (a store is returned as it is)."""
    if isinstance(location, (LocalStore, HadoopStore)):
        return location
    if is_uri(location):  # type: ignore[arg-type]
        if spark is None:
            raise ValueError("a URI store needs the Spark session")
        return HadoopStore(str(location), spark)
    return LocalStore(Path(location))  # type: ignore[arg-type]
