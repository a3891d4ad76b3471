"""A store on Amazon S3 or any S3-compatible server (``s3://bucket/prefix``), for the
default DuckDB engine, through boto3.

Why boto3: it is the one client here that sends S3's conditional writes (``If-None-Match:
*`` to create only if absent, ``If-Match: <etag>`` to replace only what was read), which the
commit record and the lease need to be atomic; it reads the standard AWS variables
(``AWS_ACCESS_KEY_ID``, ``AWS_SECRET_ACCESS_KEY``, ``AWS_SESSION_TOKEN``, ``AWS_REGION`` /
``AWS_DEFAULT_REGION``, ``AWS_ENDPOINT_URL`` / ``AWS_ENDPOINT_URL_S3``, profiles); and it is
plain Python from PyPI. DuckDB's own S3 reader (the ``httpfs`` extension) is downloaded by
DuckDB at first use from DuckDB's extension server, which a machine without that network
cannot reach; pyarrow's ``S3FileSystem`` has no conditional writes.

DuckDB reads local files, so every file the job reads (the day's usage files, the month's
state) is downloaded into a mirror of the store's layout in a local folder of this process
(``local``), checked against the object's ETag on each use and deleted when the store is
closed or the process ends. Staging and spill files live under ``FLEXBATCH_WORK_DIR``.
Keys are used as they are: S3 has no glob, so a key with ``[ * ?`` or spaces is itself.
A "folder" is a key prefix; an empty folder is a zero-byte ``name/`` marker object (what
the S3 console's "Create folder" makes), which is how a day without usage is delivered.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import shutil
import tempfile
import weakref
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from flexbatch.errors import ConfigError, EnvironmentFailure, FlexbatchError
from flexbatch.storage.stores import FileInfo

logger = logging.getLogger(__name__)

SCHEME = "s3://"
DOWNLOAD_THREADS = 8


def is_s3(location: object) -> bool:
    return isinstance(location, str) and location.startswith(SCHEME)


def split_uri(uri: str) -> tuple[str, str]:
    """``s3://bucket/a/b`` -> ``("bucket", "a/b/")`` (the prefix ends with ``/`` or is
    empty)."""
    rest = uri[len(SCHEME) :].strip("/")
    bucket, _, prefix = rest.partition("/")
    if not bucket:
        raise ConfigError(f"{uri}: no bucket named; fix: write s3://BUCKET/PREFIX")
    return bucket, f"{prefix}/" if prefix else ""


def make_client() -> Any:
    """An S3 client from the standard AWS variables; a custom endpoint (MinIO, moto, Ceph)
    is addressed by path (``endpoint/bucket/key``), which every such server answers."""
    import boto3
    from botocore.config import Config

    endpoint = os.environ.get("AWS_ENDPOINT_URL_S3") or os.environ.get("AWS_ENDPOINT_URL")
    region = os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION")
    config = Config(
        retries={"max_attempts": 5, "mode": "standard"},
        s3={"addressing_style": "path"} if endpoint else {},
        max_pool_connections=DOWNLOAD_THREADS * 2,
    )
    return boto3.session.Session().client(
        "s3", endpoint_url=endpoint or None, region_name=region or None, config=config
    )


def _code(exc: BaseException) -> str:
    response = getattr(exc, "response", None) or {}
    return str(response.get("Error", {}).get("Code", ""))


def _status(exc: BaseException) -> int:
    response = getattr(exc, "response", None) or {}
    return int(response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0) or 0)


def _missing(exc: BaseException) -> bool:
    return _code(exc) in {"404", "NoSuchKey", "NotFound"} or _status(exc) == 404


def _precondition_failed(exc: BaseException) -> bool:
    return _code(exc) in {"PreconditionFailed", "412"} or _status(exc) == 412


def s3_failure(exc: BaseException, where: str) -> FlexbatchError | None:
    """A boto3 failure a user can act on, as one line with its exit code (bad credentials,
    a missing bucket or no access: 2, like a bad path; an unreachable endpoint: 1)."""
    from botocore import exceptions as bx

    if isinstance(exc, bx.NoCredentialsError | bx.PartialCredentialsError):
        return ConfigError(
            f"{where}: no AWS credentials; fix: set AWS_ACCESS_KEY_ID and "
            "AWS_SECRET_ACCESS_KEY (or a profile)"
        )
    if isinstance(exc, bx.EndpointConnectionError | bx.ConnectTimeoutError):
        return EnvironmentFailure(
            f"{where}: cannot reach the S3 endpoint ({exc}); fix: check AWS_ENDPOINT_URL and "
            "the network, then run again"
        )
    code = _code(exc)
    if code == "NoSuchBucket":
        return ConfigError(f"{where}: no such bucket; fix: create it or give another URI")
    if code in {"AccessDenied", "InvalidAccessKeyId", "SignatureDoesNotMatch", "403"}:
        return ConfigError(
            f"{where}: access denied ({code}); fix: check the AWS credentials and the bucket policy"
        )
    return None


MIRROR = "flexbatch-s3-"


def _remove_dead_mirrors(work: Path) -> None:
    """Mirrors left by processes of this host that were killed (named by their pid)."""
    for folder in work.glob(f"{MIRROR}*-*"):
        pid = folder.name[len(MIRROR) :].split("-", 1)[0]
        if not pid.isdigit():
            continue
        try:
            os.kill(int(pid), 0)
        except ProcessLookupError:
            shutil.rmtree(folder, ignore_errors=True)
        except PermissionError:
            continue  # alive, another user's


class S3Store:
    """``s3://bucket/prefix`` as a :class:`flexbatch.storage.stores.Store`."""

    def __init__(
        self,
        uri: str,
        work_dir: Path | None = None,
        lease_seconds: int = 600,
        client: Any | None = None,
    ) -> None:
        self.bucket, self.prefix = split_uri(uri)
        self.uri = f"{SCHEME}{self.bucket}/{self.prefix}".rstrip("/")
        self.client = client or make_client()
        work = Path(work_dir or tempfile.gettempdir())
        digest = hashlib.sha256(self.uri.encode()).hexdigest()[:12]
        self.staging = work / f"flexbatch-{digest}"
        self.local_root: Path | None = None
        work.mkdir(parents=True, exist_ok=True)
        # the mirror of the files this process read: private to it, gone when it is done
        # (and, if it was killed, removed by the next process that opens a store here)
        _remove_dead_mirrors(work)
        self.mirror = Path(tempfile.mkdtemp(prefix=f"{MIRROR}{os.getpid()}-", dir=work))
        self._fetched: dict[str, str] = {}  # rel -> ETag of the copy in the mirror
        self._finalizer = weakref.finalize(self, shutil.rmtree, self.mirror, True)
        self.lease_seconds = lease_seconds
        self.lease_token: str | None = None
        self.lease_etag: str | None = None

    def close(self) -> None:
        """Delete the local mirror (also done when the store is collected or at exit)."""
        self._finalizer()

    # -- paths ---------------------------------------------------------------------------
    def key(self, rel: str) -> str:
        return f"{self.prefix}{rel}" if rel else self.prefix.rstrip("/")

    def display(self, rel: str = "") -> str:
        return f"{self.uri}/{rel}" if rel else self.uri

    def engine_path(self, rel: str) -> str:
        return str(self.local(rel))

    def _folder_prefix(self, folder: str) -> str:
        return f"{self.prefix}{folder}/" if folder else self.prefix

    def _call(self, method: str, rel: str, **kwargs: Any) -> Any:
        """One client call; a failure the user can act on becomes a FlexbatchError."""
        try:
            return getattr(self.client, method)(Bucket=self.bucket, **kwargs)
        except Exception as exc:
            known = s3_failure(exc, self.display(rel))
            if known is not None:
                raise known from exc
            raise

    def _objects(self, folder: str, delimiter: bool) -> Iterator[dict]:
        """Pages of ``list_objects_v2`` under ``folder``."""
        token = None
        while True:
            kwargs: dict[str, Any] = {"Prefix": self._folder_prefix(folder)}
            if delimiter:
                kwargs["Delimiter"] = "/"
            if token:
                kwargs["ContinuationToken"] = token
            page = self._call("list_objects_v2", folder, **kwargs)
            yield page
            if not page.get("IsTruncated"):
                return
            token = page["NextContinuationToken"]

    def _info(self, obj: dict) -> FileInfo:
        mtime_ns = int(obj["LastModified"].timestamp() * 10**6) * 1000
        return FileInfo(obj["Key"][len(self.prefix) :], int(obj["Size"]), mtime_ns)

    # -- reading -------------------------------------------------------------------------
    def list_files(self, folder: str) -> list[FileInfo]:
        """The objects directly under ``folder`` (its ``folder/`` marker left out)."""
        infos = [
            self._info(obj)
            for page in self._objects(folder, delimiter=True)
            for obj in page.get("Contents", [])
            if not obj["Key"].endswith("/")
        ]
        return sorted(infos, key=lambda i: i.rel)

    def list_dirs(self, folder: str) -> list[str]:
        start = len(self._folder_prefix(folder))
        return sorted(
            p["Prefix"][start:].rstrip("/")
            for page in self._objects(folder, delimiter=True)
            for p in page.get("CommonPrefixes", [])
        )

    def walk(self, folder: str, depth: int, *, dirs: bool = False) -> list[FileInfo]:
        """The files (with ``dirs``, the folders) exactly ``depth`` levels below
        ``folder``, from one recursive listing."""
        base = f"{folder}/" if folder else ""
        files: list[FileInfo] = []
        folders: set[str] = set()
        for page in self._objects(folder, delimiter=False):
            for obj in page.get("Contents", []):
                info = self._info(obj)
                parts = info.rel[len(base) :].split("/")
                marker = info.rel.endswith("/")
                if marker:
                    parts = parts[:-1]
                if len(parts) > depth or (marker and len(parts) == depth):
                    folders.add(base + "/".join(parts[:depth]))
                elif len(parts) == depth and not marker:
                    files.append(info)
        if dirs:
            return [FileInfo(rel, 0, 0) for rel in sorted(folders)]
        return sorted(files, key=lambda i: i.rel)

    def is_dir(self, rel: str) -> bool:
        if not rel:
            return True
        page = self._call("list_objects_v2", rel, Prefix=f"{self.key(rel)}/", MaxKeys=1)
        return bool(page.get("KeyCount"))

    def _head(self, rel: str) -> dict | None:
        try:
            return self.client.head_object(Bucket=self.bucket, Key=self.key(rel))
        except Exception as exc:
            if _missing(exc):
                return None
            known = s3_failure(exc, self.display(rel))
            if known is not None:
                raise known from exc
            raise

    def exists(self, rel: str) -> bool:
        return self._head(rel) is not None or self.is_dir(rel)

    def read_bytes(self, rel: str) -> bytes:
        return self._get(rel)[0]

    def _get(self, rel: str, **kwargs: Any) -> tuple[bytes, str]:
        try:
            response = self._call("get_object", rel, Key=self.key(rel), **kwargs)
        except Exception as exc:
            if _missing(exc):
                raise FileNotFoundError(self.display(rel)) from exc
            raise
        return response["Body"].read(), response["ETag"]

    def read_range(self, rel: str, offset: int, length: int) -> bytes:
        if length <= 0:
            return b""
        return self._get(rel, Range=f"bytes={offset}-{offset + length - 1}")[0]

    def local(self, rel: str) -> Path:
        """A local copy of ``rel`` at the same relative path under the mirror (so a file's
        path relative to the mirror is its path relative to the store), fetched again when
        the object changed since it was copied."""
        target = self.mirror / rel if rel else self.mirror
        if not rel:
            return target
        head = self._head(rel)
        if head is None:
            raise FileNotFoundError(self.display(rel))
        if self._fetched.get(rel) == head["ETag"] and target.is_file():
            return target
        target.parent.mkdir(parents=True, exist_ok=True)
        partial = target.with_name(f".{target.name}.partial")
        try:
            self.client.download_file(self.bucket, self.key(rel), str(partial))
        except Exception as exc:
            known = s3_failure(exc, self.display(rel))
            if known is not None:
                raise known from exc
            raise
        partial.replace(target)
        self._fetched[rel] = head["ETag"]
        return target

    def fetch_tree(self, folder: str) -> Path:
        """Every file under ``folder`` copied into the mirror (in parallel); a mirrored
        file the store no longer has is removed. Returns the mirror's folder."""
        base = f"{folder}/" if folder else ""
        rels = [
            obj["Key"][len(self.prefix) :]
            for page in self._objects(folder, delimiter=False)
            for obj in page.get("Contents", [])
            if not obj["Key"].endswith("/")
        ]
        with ThreadPoolExecutor(DOWNLOAD_THREADS) as pool:
            list(pool.map(self.local, rels))
        local = self.mirror / folder if folder else self.mirror
        keep = {self.mirror / rel for rel in rels}
        if local.is_dir():
            for path in [p for p in local.rglob("*") if p.is_file() and p not in keep]:
                path.unlink()
        logger.debug("mirrored %d files of %s", len(rels), self.display(base))
        return local

    @contextlib.contextmanager
    def config_folder(self, names: tuple[str, ...]) -> Iterator[Path]:
        """A temporary local folder with copies of the configuration files ``names`` that
        exist; an error raised while they are read names the S3 object."""
        with tempfile.TemporaryDirectory(prefix="flexbatch-in-") as folder:
            for name in names:
                if self._head(name) is not None:
                    shutil.copyfile(self.local(name), Path(folder) / name)
            try:
                yield Path(folder)
            except FlexbatchError as exc:
                raise type(exc)(str(exc).replace(folder, self.display())) from None

    # -- writing -------------------------------------------------------------------------
    def write_bytes(self, rel: str, data: bytes, *, overwrite: bool = True) -> bool:
        """Put a small object; with ``overwrite=False`` a conditional put (``If-None-Match:
        *``): S3 itself refuses it when the key exists, so two writers cannot both
        create it. False when it was there."""
        return self.put_conditional(rel, data, if_none_match=not overwrite) is not None

    def put_conditional(
        self, rel: str, data: bytes, *, if_none_match: bool = False, if_match: str | None = None
    ) -> str | None:
        """Put ``data``; the new ETag, or None when the condition failed (412)."""
        kwargs: dict[str, Any] = {"Key": self.key(rel), "Body": data}
        if if_none_match:
            kwargs["IfNoneMatch"] = "*"
        if if_match is not None:
            kwargs["IfMatch"] = if_match
        try:
            return str(self._call("put_object", rel, **kwargs)["ETag"])
        except Exception as exc:
            if _precondition_failed(exc) or _code(exc) == "ConditionalRequestConflict":
                return None
            raise

    def read_with_etag(self, rel: str) -> tuple[bytes, str] | None:
        try:
            return self._get(rel)
        except FileNotFoundError:
            return None

    def put(self, local: Path, rel: str) -> None:
        """Upload a local file to ``rel`` (multipart past 8 MB) and delete the local one."""
        try:
            self.client.upload_file(str(local), self.bucket, self.key(rel))
        except Exception as exc:
            known = s3_failure(exc, self.display(rel))
            if known is not None:
                raise known from exc
            raise
        local.unlink()

    def rename(self, src: str, dst: str) -> bool:
        """Move a small object to ``dst`` unless ``dst`` exists: a conditional put of its
        bytes (S3 refuses it atomically when ``dst`` exists), then the delete of ``src``.
        False when ``src`` is gone or ``dst`` is there. (Used for commit records and
        leases, a few hundred bytes each.)"""
        found = self.read_with_etag(src)
        if found is None:
            return False
        if not self.write_bytes(dst, found[0], overwrite=False):
            return False
        self.delete(src)
        return True

    def rename_over(self, src: str, dst: str) -> None:
        """Replace ``dst`` by ``src``: one server-side copy, which S3 makes visible whole
        (a reader gets the old object or the new one), then the delete of ``src``."""
        try:
            self.client.copy(
                {"Bucket": self.bucket, "Key": self.key(src)}, self.bucket, self.key(dst)
            )
        except Exception as exc:
            known = s3_failure(exc, self.display(dst))
            if known is not None:
                raise known from exc
            raise
        self._call("delete_object", src, Key=self.key(src))

    def delete(self, rel: str) -> None:
        """Delete the object ``rel`` and every object under ``rel/`` (a folder)."""
        keys = [self.key(rel)] if rel else []
        for page in self._objects(rel, delimiter=False):
            keys.extend(obj["Key"] for obj in page.get("Contents", []))
        for start in range(0, len(keys), 1000):
            batch = [{"Key": k} for k in keys[start : start + 1000]]
            self._call("delete_objects", rel, Delete={"Objects": batch, "Quiet": True})

    def sync(self, rels: list[str]) -> None:
        """Nothing to do: S3 has stored an object durably when its PUT returns."""

    def lock(self, command: str) -> contextlib.AbstractContextManager[None]:
        from flexbatch.storage.s3_lease import s3_lock

        return s3_lock(self, command)

    def check_lock(self) -> None:
        """LockHeldError unless this process still holds the lease (before each commit)."""
        from flexbatch.storage.s3_lease import assert_lease

        assert_lease(self)

    def spark_target(self, rel: str) -> str | None:
        return None  # the DuckDB engine: the driver writes every table

    def upgrade(self) -> None:
        """Nothing to do: S3 OUTs were always published as plain keys."""
