"""A store on any Hadoop-compatible URI (``hdfs://``, ``s3a://``, ``abfs://``, ``gs://``,
``file://``), reached through ``org.apache.hadoop.fs.FileSystem`` in the Spark driver's
JVM, so it reaches whatever the cluster's Spark reaches, with the same credentials.

Event-sized files are never copied: Spark reads them where they are (``engine_path``).
Account-sized files the driver's DuckDB reads are copied once into a local cache, keyed by
size and modification time (a file rewritten by a later run is fetched again). Folders are
listed by exact name (``listStatus``); the one wildcard listing (``walk``) escapes the
literal part of the path first.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from flexbatch.errors import FlexbatchError
from flexbatch.storage.literal import hadoop_literal
from flexbatch.storage.stores import FileInfo

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

logger = logging.getLogger(__name__)


class HadoopStore:
    """A Hadoop URI as a :class:`flexbatch.storage.stores.Store`."""

    def __init__(
        self, uri: str, spark: SparkSession, work_dir: Path | None = None, lease_seconds: int = 600
    ) -> None:
        self.spark = spark
        self.jvm: Any = spark._jvm  # type: ignore[attr-defined]
        self.conf = spark._jsc.hadoopConfiguration()  # type: ignore[attr-defined]
        hadoop_path = self.jvm.org.apache.hadoop.fs.Path(uri.rstrip("/"))
        self.fs = hadoop_path.getFileSystem(self.conf)
        self.root_path = self.fs.makeQualified(hadoop_path)
        self.uri = str(self.root_path.toString())
        digest = hashlib.sha256(self.uri.encode()).hexdigest()[:12]
        self.staging = (work_dir or Path(tempfile.gettempdir())) / f"flexbatch-{digest}"
        self.cache = self.staging / "cache"
        self.local_root: Path | None = None
        self.lease_token: str | None = None  # set while this process holds OUT's lease
        self.lease_seconds = lease_seconds

    # -- paths ---------------------------------------------------------------------------
    def path(self, rel: str = "") -> Any:
        return self.jvm.org.apache.hadoop.fs.Path(self.root_path, rel) if rel else self.root_path

    def display(self, rel: str = "") -> str:
        return f"{self.uri}/{rel}" if rel else self.uri

    def engine_path(self, rel: str) -> str:
        return self.display(rel)

    def _rel(self, hadoop_path: Any) -> str:
        full = self.fs.makeQualified(hadoop_path).toUri().getPath()
        return str(full)[len(str(self.root_path.toUri().getPath())) :].lstrip("/")

    def _info(self, status: Any) -> FileInfo:
        mtime_ns = int(status.getModificationTime()) * 10**6
        return FileInfo(self._rel(status.getPath()), int(status.getLen()), mtime_ns)

    # -- reading -------------------------------------------------------------------------
    def _statuses(self, folder: str) -> list[Any]:
        path = self.path(folder)
        if not self.fs.exists(path) or not self.fs.getFileStatus(path).isDirectory():
            return []
        return list(self.fs.listStatus(path))

    def list_files(self, folder: str) -> list[FileInfo]:
        infos = [self._info(s) for s in self._statuses(folder) if s.isFile()]
        return sorted(infos, key=lambda i: i.rel)

    def list_dirs(self, folder: str) -> list[str]:
        return sorted(str(s.getPath().getName()) for s in self._statuses(folder) if s.isDirectory())

    def walk(self, folder: str, depth: int, *, dirs: bool = False) -> list[FileInfo]:
        """The files (with ``dirs``, the folders) exactly ``depth`` levels below
        ``folder``, in one glob call rather than a listing per folder."""
        pattern = hadoop_literal(self.display(folder)) + "/*" * depth
        statuses = self.fs.globStatus(self.jvm.org.apache.hadoop.fs.Path(pattern)) or []
        found = (self._info(s) for s in statuses if bool(s.isDirectory()) == dirs)
        return sorted(found, key=lambda i: i.rel)

    def is_dir(self, rel: str) -> bool:
        path = self.path(rel)
        return bool(self.fs.exists(path)) and bool(self.fs.getFileStatus(path).isDirectory())

    def exists(self, rel: str) -> bool:
        return bool(self.fs.exists(self.path(rel)))

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

    @contextlib.contextmanager
    def config_folder(self, names: tuple[str, ...]) -> Iterator[Path]:
        """A temporary local folder with copies of the configuration files ``names`` that
        exist; an error raised while they are read names the remote file."""
        with tempfile.TemporaryDirectory(prefix="flexbatch-in-") as folder:
            for name in names:
                if self.exists(name):
                    shutil.copyfile(self.local(name), Path(folder) / name)
            try:
                yield Path(folder)
            except FlexbatchError as exc:
                raise type(exc)(str(exc).replace(folder, self.display())) from None

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

    def put(self, local: Path, rel: str) -> None:
        """Upload a local file to ``rel`` (overwriting) and delete the local one."""
        self.fs.copyFromLocalFile(
            True, True, self.jvm.org.apache.hadoop.fs.Path(str(local)), self.path(rel)
        )

    def rename(self, src: str, dst: str) -> bool:
        """Rename unless ``dst`` exists; False when ``src`` is gone or ``dst`` is there."""
        self.fs.mkdirs(self.path(dst).getParent())
        return bool(self.fs.rename(self.path(src), self.path(dst)))

    def rename_over(self, src: str, dst: str) -> None:
        """Rename ``src`` onto ``dst``, replacing it: one atomic step on HDFS and local
        disks; on object stores a copy of one object (atomic per object) and a delete."""
        fs_api = self.jvm.org.apache.hadoop.fs
        self.fs.mkdirs(self.path(dst).getParent())
        context = fs_api.FileContext.getFileContext(self.fs.getUri(), self.conf)
        gateway = self.spark.sparkContext._gateway  # type: ignore[attr-defined]
        options = gateway.new_array(fs_api.Options.Rename, 1)
        options[0] = fs_api.Options.Rename.OVERWRITE
        context.rename(self.path(src), self.path(dst), options)

    def delete(self, rel: str) -> None:
        self.fs.delete(self.path(rel), True)

    def sync(self, rels: list[str]) -> None:
        """Nothing to do: a Hadoop file is durable once its stream is closed."""

    def lock(self, command: str) -> contextlib.AbstractContextManager[None]:
        from flexbatch.storage.lease import remote_lock

        return remote_lock(self, command)

    def check_lock(self) -> None:
        """LockHeldError unless this process still holds the lease (before each commit)."""
        from flexbatch.storage.lease import assert_lease

        assert_lease(self)

    def spark_target(self, rel: str) -> str | None:
        """Spark writes the subject-sized tables of a URI OUT into the generation itself."""
        return self.display(rel)

    def upgrade(self) -> None:
        """Nothing to do: URI OUTs were always published as plain folders."""
